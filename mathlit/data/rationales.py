"""A generative verifier's text (GenRM, Zhang et al. 2024): a check of the solution, then the verdict.

verifier.generative_template holds {question}, {solution} and {rationale}: the text up to {rationale} (the check
prompt) is what the verifier writes its check after, the text after it (the verdict stem, "The above candidate
solution is") leads to the verdict word, yes_word or no_word. Training rationales come from the candidate's own
<<a op b = c>> annotations (`candidate_rationale`: exact arithmetic, never eval of model output) or from a teacher
(`split_verdict` reads its verdict); the verifier's own checks at scoring are read by `split_verdict` too.
"""

from fractions import Fraction

from transformers import PreTrainedTokenizerBase

from mathlit.answers.calculator import Calculation, calculations, evaluate
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


def _check(calc: Calculation) -> str:
    """One calculation restated and recomputed: "8+5=13 correct", "53-37=17 wrong, it is 16", a copy slip
    "53-37=16 correct, but 17 is written"."""
    said = f"{calc.lhs}={calc.rhs}"
    if calc.value is None:
        return f"{said} cannot be computed"
    if calc.claimed is None or abs(calc.value - calc.claimed) >= 1e-3:
        return f"{said} wrong, it is {_number(calc.value)}"
    if not calc.holds:
        return f"{said} correct, but {calc.written} is written"
    return f"{said} correct"


def candidate_rationale(solution: str, domain: str = "gsm8k") -> str:
    """A check of the solution built from its annotations: each calculation recomputed, then the final answer
    compared with the last calculation's true result. Starts with a space, one line."""
    found = calculations(solution)
    parts = [_check(c) for c in found] or ["no calculations to check"]
    answer = extract_answer(solution, domain).answer
    if answer is None:
        parts.append("no final answer is given")
    elif found and found[-1].value is not None:
        given, last = evaluate(answer.replace(",", "")), found[-1].value
        if given is not None and abs(given - last) < 1e-3:
            parts.append(f"the answer {answer} is the last result")
        else:
            parts.append(f"the answer {answer} is not the last result {_number(last)}")
    else:
        parts.append(f"the answer is {answer}")
    return " " + ". ".join(parts) + "."
