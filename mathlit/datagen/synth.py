"""Synthetic questions (Xwin-Math, Li et al. 2024), with OpenMathInstruct-2's majority labels and decontamination.

Three calls to one generator: create a new question from each seed (synth.per_seed of them), verify it (solve
and revise; the FINAL CREATED QUESTION field), answer it synth.answers times. Each call's replies are sampled
into resumable shards (mathlit.sampling.records: create/, verify/, answer/), so a killed run continues where it
stopped and every later step is recomputed from the shards: no row is lost or written twice. The ranks a launcher
started (torchrun, srun) sample each call together, each its share of the shards.

Between the calls, new questions are filtered and every rejection is counted and kept with its reason in
rejected.jsonl: unparseable replies, duplicates (normalised text) of a training question or of another new one,
questions over synth.max_question_tokens, and contaminated ones (synth.max_overlap of their word n-grams in one
test question, which is recorded). A question's label is its majority answer (share >= synth.min_majority, no
tie); its rows are the solutions that agree and pass RFT's filters. Outputs: synthetic.jsonl (mathlit rows, each
with its provenance in meta), synth_report.json, funnel.png.
"""

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from transformers import PreTrainedTokenizerBase

from mathlit.data.formats import Example, example_to_row, load_examples
from mathlit.datagen.labels import agreeing_paths, majority_label
from mathlit.datagen.questions import NgramIndex, normalise, parse_created, parse_verified
from mathlit.datagen.rft import library_versions
from mathlit.errors import ConfigError
from mathlit.io import write_json, write_jsonl
from mathlit.metrics.plots import plot_funnel
from mathlit.sampling.policy import Policy, sampling_params

REASONS = ("unparseable", "duplicate", "too_long", "contaminated", "no_majority", "no_solution")
# The funnel's steps, each with the reason that removes questions before it.
STEPS = (
    ("created", None),
    ("parsed", "unparseable"),
    ("distinct", "duplicate"),
    ("short enough", "too_long"),
    ("not contaminated", "contaminated"),
    ("labelled", "no_majority"),
    ("with kept solutions", "no_solution"),
)


def generator_policy(cfg: DictConfig, tokenizer: PreTrainedTokenizerBase) -> Policy:
    """The weights that write the questions and solutions: sampler=openai a server's; else model.path with the
    configured backend; else model.arch at random (tests)."""
    if cfg.sampler.name == "openai":  # the server's model (model.path, if set, only names its tokenizer)
        return Policy(cfg, tokenizer)
    if cfg.model.path:
        return Policy(cfg, tokenizer, folder=cfg.model.path)
    if cfg.sampler.name != "hf":
        raise ConfigError(f"sampler={cfg.sampler.name} needs model.path (a saved model folder) for task=synth")
    from mathlit.models.build import build_model

    torch.manual_seed(cfg.seed)
    return Policy(cfg, tokenizer, model=build_model(cfg.model, tokenizer), version=f"random init, seed {cfg.seed}")


def sha256(text: str) -> str:
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass
class SynthResult:
    rows: list[Example]
    report: dict
    rejected: list[dict] = field(default_factory=list)


class SynthGenerator:
    def __init__(self, cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, policy: Policy):
        self.cfg, self.tokenizer, self.policy = cfg, tokenizer, policy
        self.generator = policy.describe()  # the rows' provenance
        p = cfg.synth.prompts
        self.prompts = {"create": p.create, "verify": p.verify, "answer": p.answer or cfg.data.prompt_template}
        self.params = {call: sampling_params(cfg, call) for call in self.prompts}
        self.rejected: list[dict] = []

    def _sample(self, call: str, examples: list[Example], out_dir: Path) -> list[list[dict]]:
        """Each example's replies to one call (resumable shards in out_dir/<call>), every rank its share."""
        params = self.params[call]
        records = self.policy.sample(examples, out_dir / call, params, template=self.prompts[call], together=True)
        return [records[i : i + params.n] for i in range(0, len(records), params.n)]

    def _reject(self, question: Example, reason: str, detail: str, **extra) -> None:
        self.rejected.append(
            {"id": question.id, "seed_id": question.meta["seed_id"], "reason": reason, "detail": detail}
            | {"question": question.question or None}
            | extra
        )

    def _new_questions(self, seeds: list[Example], out_dir: Path) -> list[Example]:
        """Create (and verify) per_seed questions per seed; unparseable replies are rejected."""
        questions = []
        for seed, replies in zip(seeds, self._sample("create", seeds, out_dir), strict=True):
            for r in replies:
                q = Example(f"{seed.id}#syn{r['sample_idx']}", "", "", "", seed.domain, {"seed_id": seed.id})
                parsed = parse_created(r["completion"])
                if parsed.question is None:
                    self._reject(q, "unparseable", f"create: {parsed.reason}", reply=r["completion"])
                else:
                    questions.append(replace(q, question=parsed.question))
        if not self.cfg.synth.verify:
            return questions
        verified = []
        for q, (r,) in zip(questions, self._sample("verify", questions, out_dir), strict=True):
            parsed = parse_verified(r["completion"])
            if parsed.question is None:
                self._reject(q, "unparseable", f"verify: {parsed.reason}", reply=r["completion"])
            else:
                verified.append(replace(q, question=parsed.question))
        return verified

    def _filtered(self, questions: list[Example], known: list[str], index: NgramIndex) -> list[tuple[Example, float]]:
        """Questions neither duplicate, too long nor contaminated, each with its largest test n-gram overlap."""
        s = self.cfg.synth
        seen = dict.fromkeys(map(normalise, known), "a training question")
        kept = []
        for q in questions:
            key = normalise(q.question)
            if key in seen:
                self._reject(q, "duplicate", f"of {seen[key]}")
                continue
            seen[key] = f"new question {q.id}"
            length = len(self.tokenizer(q.question)["input_ids"])
            if length > s.max_question_tokens:
                self._reject(q, "too_long", f"{length} tokens > synth.max_question_tokens={s.max_question_tokens}")
                continue
            overlap, closest = index.closest(q.question)
            if overlap >= s.max_overlap:
                detail = f"{overlap:.2f} of its {s.ngram}-grams in one test question"
                self._reject(q, "contaminated", detail, overlap=overlap, closest_test=closest)
                continue
            kept.append((q, overlap))
        return kept

    def run(self, seeds: list[Example], known: list[str], tests: list[str], out_dir: str | Path) -> SynthResult:
        """Questions from `seeds`, checked against the `known` training questions and the `tests` questions. Every
        rank of the run calls it at once (mathlit.sampling.ranks): each samples its share of every call's shards,
        all filter the same records alike, and global rank 0 writes the run's files."""
        s, out_dir = self.cfg.synth, Path(out_dir)
        self.rejected = []
        questions = self._new_questions(seeds, out_dir)
        kept = self._filtered(questions, known, NgramIndex(tests, s.ngram))
        provenance = {
            "synthetic": True,
            "generator": self.generator,
            "prompts": {call: sha256(text) for call, text in self.prompts.items()},
            "sampling": {call: asdict(p) for call, p in self.params.items()},
            "versions": library_versions(),
        }
        rows, shares = [], []
        solutions = self._sample("answer", [q for q, _ in kept], out_dir)
        for (q, overlap), records in zip(kept, solutions, strict=True):
            label = majority_label(records, s.min_majority)
            if label.answer is None:
                self._reject(q, "no_majority", f"{label.reason} (share {label.share:.2f})")
                continue
            paths = agreeing_paths(records, label.answer).kept
            if not paths:
                self._reject(q, "no_solution", f"no agreeing solution passes the RFT filters (label {label.answer})")
                continue
            shares.append(label.share)
            meta = provenance | q.meta | {"question_id": q.id, "label_share": label.share, "test_overlap": overlap}
            for j, r in enumerate(paths):
                rows.append(Example(f"{q.id}/{j}", q.question, r["completion"].strip(), label.answer, q.domain, meta))
        report = self._report(len(seeds), rows, shares, len(tests))
        if rank_zero_only.rank != 0:  # every rank holds the same rows; rank 0 writes them
            return SynthResult(rows, report, self.rejected)
        write_jsonl(out_dir / "synthetic.jsonl", [example_to_row(e) for e in rows])
        write_jsonl(out_dir / "rejected.jsonl", self.rejected)
        write_json(out_dir / "synth_report.json", report)
        title = f"{self.cfg.data.name}: {len(seeds)} seeds x {s.per_seed}, {len(rows)} rows"
        plot_funnel(report["funnel"], out_dir / "funnel.png", title)
        return SynthResult(rows, report, self.rejected)

    def _report(self, seeds: int, rows: list[Example], shares: list[float], tests: int) -> dict:
        s = self.cfg.synth
        rejected = Counter(r["reason"] for r in self.rejected)
        left, funnel = seeds * s.per_seed, []
        for step, reason in STEPS:
            left -= rejected[reason] if reason else 0
            funnel.append([step, left])
        return {
            "seeds": seeds,
            "per_seed": s.per_seed,
            "funnel": funnel,  # [step, new questions left], in order
            "rejected": {reason: rejected[reason] for reason in REASONS},
            "rejected_details": dict(Counter(f"{r['reason']}: {r['detail']}" for r in self.rejected).most_common(20)),
            "questions": len(shares),
            "rows": len(rows),
            "label_share_mean": sum(shares) / max(1, len(shares)),
            "decontamination": {"ngram": s.ngram, "max_overlap": s.max_overlap, "test_questions": tests},
            "generator": self.generator,
            "prompts": {call: sha256(text) for call, text in self.prompts.items()},
        }


def decontamination_questions(cfg: DictConfig, own: list[Example]) -> list[str]:
    """The questions of data's own test split and of every synth.test_paths file, once each."""
    questions = [e.question for e in own]
    for i, path in enumerate(cfg.synth.test_paths):
        examples, _ = load_examples(path, f"synth.test_paths[{i}]", on_bad_row="skip")  # the questions suffice
        questions += [e.question for e in examples]
    return list(dict.fromkeys(questions))
