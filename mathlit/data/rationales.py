"""A generative verifier's text (GenRM, Zhang et al. 2024): a check of the solution, then the verdict.

verifier.generative_template holds {question}, {solution} and {rationale}: the text up to {rationale} (the check
prompt) is what the verifier writes its check after, the text after it (the verdict stem, "The above candidate
solution is") leads to the verdict word, yes_word or no_word. Training rationales come from the candidate's own
<<a op b = c>> annotations (`candidate_rationale`: exact arithmetic, never eval of model output) or from a teacher
(`split_verdict` reads its verdict); the verifier's own checks at scoring are read by `split_verdict` too.
"""

from fractions import Fraction

from transformers import PreTrainedTokenizerBase

from mathlit.answers.calculator import Calculation, calculations, close, evaluate
from mathlit.answers.extract import extract_answer
from mathlit.data.tokenize import Prompt, encode_prompts, encode_text, fill
from mathlit.errors import ConfigError

RATIONALE = "{rationale}"


def check_template_parts(template: str) -> tuple[str, str]:
    """(check prompt template, verdict stem) of verifier.generative_template."""
    if template.count(RATIONALE) != 1:
        raise ConfigError(f"verifier.generative_template must hold {RATIONALE} exactly once: {template!r}")
    before, stem = template.split(RATIONALE)
    if not stem.strip():
        raise ConfigError(
            f"verifier.generative_template needs a verdict stem after {RATIONALE} (the words before the verdict)"
        )
    return before, stem


def check_prompt(template: str, question: str, solution: str) -> Prompt:
    """The text the verifier writes its check after."""
    return fill(check_template_parts(template)[0], {"question": question, "solution": solution.strip()})


def verdict_ids(
    tokenizer: PreTrainedTokenizerBase, template: str, question: str, solution: str, rationale: str
) -> list[int]:
    """The tokens up to the verdict word: the check prompt, then the rationale and the verdict stem tokenised
    apart from it, as the verifier wrote and learnt them (the next token is yes_word or no_word)."""
    [prompt] = encode_prompts(tokenizer, [check_prompt(template, question, solution)])
    [rest] = encode_text(tokenizer, [rationale + check_template_parts(template)[1]])
    return prompt + rest


def split_verdict(text: str, stem: str, yes_word: str, no_word: str) -> tuple[str, bool | None]:
    """(the check, its verdict) of a written check: the text before the last verdict stem, and True / False
    when yes_word / no_word follows it; None when neither does or the stem is missing (the whole text is the
    check, cut off or free-form)."""
    at = text.rfind(stem.strip())
    if at < 0:
        return text.rstrip(), None
    after = text[at + len(stem.strip()) :]
    verdict = True if after.startswith(yes_word) else False if after.startswith(no_word) else None
    return text[:at].rstrip(), verdict


def _number(value: Fraction) -> str:
    """An exact value as a reader writes it: 16, -3, 2.5, 0.3333."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


def _restated(calc: Calculation) -> str:
    """restate: one calculation restated, then judged and recomputed: "8+5=13 correct", "53-37=17 wrong, it is
    16", a copy slip "53-37=16 correct, but 17 is written"."""
    said = f"{calc.lhs}={calc.rhs}"
    if calc.value is None:
        return f"{said} cannot be computed"
    if not calc.computes:
        return f"{said} wrong, it is {_number(calc.value)}"
    if not calc.copied:
        return f"{said} correct, but {calc.written} is written"
    return f"{said} correct"


def _recomputed(calc: Calculation) -> str:
    """recompute: the result computed first, then what the solution says, then the judgement: "8+5=13, it says
    13: correct", "53-37=16, it says 17: wrong", a copy slip "53-37=16, it says 16 then 17: wrong"."""
    if calc.value is None:
        return f"{calc.lhs}={calc.rhs} cannot be computed"
    says = calc.rhs
    if not calc.copied:
        says += f" then {calc.written}"  # a copy slip: the number after the annotation is not its result
    return f"{calc.lhs}={_number(calc.value)}, it says {says}: {'correct' if calc.holds else 'wrong'}"


def _answer_check(answer: str | None, last: Fraction | None, style: str) -> str:
    """The final answer against the last calculation's true result (None: no calculations)."""
    if answer is None:
        return "no final answer is given"
    if last is None:
        return f"the answer is {answer}"
    given = evaluate(answer.replace(",", ""))
    holds = given is not None and close(given, last)
    if style == "recompute":
        return f"the last result is {_number(last)}, the answer is {answer}: {'correct' if holds else 'wrong'}"
    return (
        f"the answer {answer} is the last result"
        if holds
        else f"the answer {answer} is not the last result {_number(last)}"
    )


def candidate_rationale(solution: str, domain: str = "gsm8k", style: str = "restate") -> str:
    """A check of the solution built from its annotations by exact arithmetic (verifier.rationale_style): each
    calculation judged, then the final answer compared with the last calculation's true result. restate writes
    the solution's claim before judging it; recompute writes the true result first, as a generator would compute
    it, then the claim. Starts with a space, one line."""
    found = calculations(solution)
    check = _recomputed if style == "recompute" else _restated
    parts = [check(c) for c in found] or ["no calculations to check"]
    last = found[-1].value if found else None
    parts.append(_answer_check(extract_answer(solution, domain).answer, last, style))
    return " " + ". ".join(parts) + "."
