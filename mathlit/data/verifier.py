"""Verifier training data: sampled solutions labelled by answer correctness, as candidates or pairs.

Each question's correct and incorrect samples (exact repeats removed) are balanced where the question
has both; the reference solution can join as a positive. Encoded items carry the evaluation
sequence ("Here is a math problem ... The above candidate solution is") and, for positives, the
generation sequence on which an optional LM loss keeps the model a generator (multi-task stage).
With a token-level or process objective they also carry `value_targets`: a label for every solution
token and the last token, IGNORE elsewhere. With the generative objective they carry the check sequence
(`check_input_ids`, `check_labels`: the check prompt, then the rationale, the verdict stem and the verdict word
as LM targets) and, as `input_ids`, the tokens up to the verdict word, where validation reads the score.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace

from transformers import PreTrainedTokenizerBase

from mathlit.answers.calculator import first_bad_calculation
from mathlit.data.formats import Example
from mathlit.data.rationales import candidate_rationale, check_prompt, check_template_parts, verdict_ids
from mathlit.data.tokenize import IGNORE, Prompt, encode_prompt, encode_prompts, encode_sft, fill, format_prompt


@dataclass(frozen=True)
class Candidate:
    qid: int  # index of the question, groups candidates for best-of-N
    question: str
    solution: str
    correct: bool
    first_wrong_step: int | None = None  # process labels by rollouts (mathlit.datagen.rollouts): a line index
    domain: str = "gsm8k"  # how its final answer is read (candidate rationales)
    rationale: str | None = None  # objective=generative: the check it is trained (or validated) with


@dataclass(frozen=True)
class Pair:
    qid: int
    question: str
    good: str
    bad: str


def verifier_prompt_template(cfg) -> str:
    """verifier.prompt_template (objective=generative: verifier.generative_template) with `{prompt}` standing for
    the generation prompt (data.prompt_template): the solution then sits in the context the generator wrote it in."""
    v = cfg.verifier
    template = v.generative_template if v.objective == "generative" else v.prompt_template
    return template.replace("{prompt}", cfg.data.prompt_template)


def format_verifier_prompt(template: str, question: str, solution: str) -> Prompt:
    return fill(template, {"question": question, "solution": solution.strip()})


def solution_span(template: str, question: str, solution: str) -> tuple[int, int]:
    """Where the solution lies in format_verifier_prompt's text, as character offsets."""
    start = len(template.split("{solution}", 1)[0].replace("{question}", question))
    return start, start + len(solution.strip())


def step_starts(solution: str) -> list[int]:
    """Where each step of the stripped solution starts: its non-blank lines, as character offsets."""
    text, starts, offset = solution.strip(), [], 0
    for line in text.split("\n"):
        if line.strip():
            starts.append(offset)
        offset += len(line) + 1
    return starts


def step_labels(solution: str, correct: bool, objective: str, first_wrong_step: int | None = None) -> list[int]:
    """A label per character of the stripped solution. token_level: the outcome everywhere. process: a
    wrong outcome is pinned on a step (a non-blank line): `first_wrong_step` (its index) when rollouts found
    it, else the step of its first calculation that does not hold; earlier steps are correct, that one and
    the rest incorrect; with neither, every step takes the outcome."""
    text = solution.strip()
    if objective == "token_level" or correct:
        return [int(correct)] * len(text)
    if first_wrong_step is not None:
        starts = step_starts(text)
        step_start = starts[min(first_wrong_step, len(starts) - 1)] if starts else 0
        return [1] * step_start + [0] * (len(text) - step_start)
    bad = first_bad_calculation(text)
    if bad is None:
        return [0] * len(text)
    step_start = text.rfind("\n", 0, bad) + 1
    return [1] * step_start + [0] * (len(text) - step_start)


def value_targets(
    tokenizer: PreTrainedTokenizerBase,
    template: str,
    question: str,
    solution: str,
    correct: bool,
    objective: str,
    first_wrong_step: int | None = None,
) -> tuple[list[int], list[int]]:
    """(input_ids, targets) of the evaluation sequence: each solution token takes its step's label
    (step_labels), the last token the outcome, every other token IGNORE."""
    text = format_verifier_prompt(template, question, solution)
    input_ids, offsets = encode_prompt(tokenizer, text)
    start, end = solution_span(template, question, solution)
    labels = step_labels(solution, correct, objective, first_wrong_step)
    # A token that overlaps the solution (" She" may start with the template's space) takes the label of
    # its first character inside it.
    targets = [labels[max(a, start) - start] if a < end and b > start else IGNORE for a, b in offsets]
    targets[-1] = int(correct)
    return input_ids, targets


def _by_question(records: list[dict], questions: list[Example]) -> list[tuple[int, Example, list[str], list[str]]]:
    index = {q.question: i for i, q in enumerate(questions)}
    good: dict[int, list[str]] = {}
    bad: dict[int, list[str]] = {}
    for r in records:
        i = index.get(r["question"])
        if i is not None:
            bucket = (good if r["correct"] else bad).setdefault(i, [])
            if r["completion"] not in bucket:
                bucket.append(r["completion"])
    return [(i, q, good.get(i, []), bad.get(i, [])) for i, q in enumerate(questions)]


def make_candidates(
    records: list[dict],
    questions: list[Example],
    *,
    balance: bool = True,
    include_reference: bool = True,
    seed: int = 0,
) -> list[Candidate]:
    """Labelled candidates. Balanced: as many correct as incorrect ones for each question that has both;
    a question with one kind only contributes one of it."""
    rng = random.Random(seed)
    first_wrong = {(r["question"], r["completion"]): r["first_wrong_step"] for r in records if "first_wrong_step" in r}
    out: list[Candidate] = []
    for i, q, good, bad in _by_question(records, questions):
        if include_reference and q.solution not in good:
            good = [q.solution, *good]
        if balance:
            n = min(len(good), len(bad)) if good and bad else 1
            good, bad = rng.sample(good, min(n, len(good))), rng.sample(bad, min(n, len(bad)))
        out += [Candidate(i, q.question, s, True, domain=q.domain) for s in good]
        out += [Candidate(i, q.question, s, False, first_wrong.get((q.question, s)), q.domain) for s in bad]
    return out


# A teacher's checks of each (question, solution): (rationale, verdict) per sample, verdict None when unreadable.
TeacherChecks = Mapping[tuple[str, str], list[tuple[str, bool | None]]]


def attach_rationales(
    items: list[Candidate],
    source: str,
    teacher: TeacherChecks | None = None,
    *,
    training: bool = True,
    style: str = "restate",
) -> list[Candidate]:
    """Each candidate with its check (verifier.rationale): built from its annotations (candidate), none (the
    direct verdict) or a teacher's. A training candidate keeps the teacher's first check whose verdict is its
    label (GenRM's filter) and is dropped without one; a validation candidate takes the first readable check
    whatever its verdict (else the first written), since its label must not choose it. `style`: how a
    candidate's own check is written (verifier.rationale_style)."""
    if source == "candidate":
        return [replace(c, rationale=candidate_rationale(c.solution, c.domain, style)) for c in items]
    if source == "none":
        return [replace(c, rationale="") for c in items]
    out = []
    for c in items:
        checks = (teacher or {}).get((c.question, c.solution), [])
        if training:
            kept = [r for r, verdict in checks if verdict == c.correct]
        else:
            kept = [r for r, verdict in checks if verdict is not None] + [r for r, _ in checks]
        if kept:
            out.append(replace(c, rationale=kept[0]))
    return out


def make_pairs(
    records: list[dict],
    questions: list[Example],
    *,
    max_per_question: int = 8,
    include_reference: bool = True,
    seed: int = 0,
) -> list[Pair]:
    """(correct, incorrect) solutions of the same question, at most `max_per_question` each."""
    rng = random.Random(seed)
    out: list[Pair] = []
    for i, q, good, bad in _by_question(records, questions):
        if include_reference and q.solution not in good:
            good = [q.solution, *good]
        combos = [(g, b) for g in good for b in bad]
        out += [Pair(i, q.question, g, b) for g, b in rng.sample(combos, min(max_per_question, len(combos)))]
    return out


class VerifierEncoder:
    """Candidates or pairs -> token fields for the shared DataModule layer."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        verifier_template: str,
        generation_template: str,
        with_lm: bool,
        objective: str = "last_token",
        verdict_words: tuple[str, str] = (" correct", " incorrect"),
    ):
        self.tokenizer, self.with_lm, self.objective = tokenizer, with_lm, objective
        self.verdict_words = verdict_words  # (yes_word, no_word): the generative objective's targets
        self.verifier_template, self.generation_template = verifier_template, generation_template

    def _eval_ids(self, question: str, solutions: list[str]) -> list[list[int]]:
        texts = [format_verifier_prompt(self.verifier_template, question, s) for s in solutions]
        return encode_prompts(self.tokenizer, texts)

    def _lm(self, question: str, solution: str | None) -> dict:
        """The generation sequence of a correct solution; a one-token placeholder with no target otherwise."""
        if not self.with_lm:
            return {}
        if solution is None:
            return {"lm_input_ids": [self.tokenizer.eos_token_id], "lm_labels": [IGNORE]}
        [encoded] = encode_sft(self.tokenizer, [format_prompt(self.generation_template, question)], [solution])
        return {"lm_input_ids": encoded["input_ids"], "lm_labels": encoded["labels"]}

    def _check(self, c: Candidate) -> dict:
        """The generative objective's fields: the check sequence with its targets, and the tokens up to the verdict."""
        stem = check_template_parts(self.verifier_template)[1]
        verdict = self.verdict_words[0] if c.correct else self.verdict_words[1]
        prompt = check_prompt(self.verifier_template, c.question, c.solution)
        [check] = encode_sft(self.tokenizer, [prompt], [c.rationale + stem + verdict])
        return {
            "input_ids": verdict_ids(self.tokenizer, self.verifier_template, c.question, c.solution, c.rationale),
            "check_input_ids": check["input_ids"],
            "check_labels": check["labels"],
        }

    def candidates(self, items: list[Candidate]) -> list[dict]:
        out = []
        for c in items:
            if self.objective == "generative":
                fields = self._check(c)
            elif self.objective == "last_token":
                [ids] = self._eval_ids(c.question, [c.solution])
                fields = {"input_ids": ids}
            else:
                ids, targets = value_targets(
                    self.tokenizer,
                    self.verifier_template,
                    c.question,
                    c.solution,
                    c.correct,
                    self.objective,
                    c.first_wrong_step,
                )
                fields = {"input_ids": ids, "value_targets": targets}
            out.append(
                fields
                | {"label": float(c.correct), "qid": c.qid, **self._lm(c.question, c.solution if c.correct else None)}
            )
        return out

    def pairs(self, items: list[Pair]) -> list[dict]:
        out = []
        for p in items:
            good, bad = self._eval_ids(p.question, [p.good, p.bad])
            out.append({"input_ids": good, "bad_input_ids": bad, "qid": p.qid, **self._lm(p.question, p.good)})
        return out
