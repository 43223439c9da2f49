"""math-verify, the field's reference checker (TRL, open-r1, NeMo-RL, verl grade with it), as mathlit's fallback.

Runs inside the bounded worker only (see symbolic.py): math-verify bounds its own work with SIGALRM, which
works on a main thread alone, so its timeouts are turned off here and the worker's time and memory limits
bound it instead. mathlit's extraction picks the answer; math-verify only compares (`answers_equal`), except
in `solution_equal`, math-verify alone as TRL's accuracy reward calls it (answers.crosscheck).
"""

import logging

logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout is disabled": the worker bounds it


def _parsed(text: str) -> list:
    from math_verify import parse

    return parse(text, parsing_timeout=None)


def answers_equal(pred: str, gold: str) -> bool:
    """Two extracted answers, each read as one LaTeX span; an inequality may equal its interval."""
    from math_verify import verify

    parsed_gold, parsed_pred = _parsed(f"${gold}$"), _parsed(f"${pred}$")
    if not parsed_gold or not parsed_pred:
        return False
    return bool(verify(parsed_gold, parsed_pred, timeout_seconds=None, allow_set_relation_comp=True))


def solution_equal(completion: str, gold: str) -> bool:
    """math-verify alone: its own extraction from the whole completion, its default comparison."""
    from math_verify import verify

    parsed_gold, parsed_pred = _parsed(f"${gold}$"), _parsed(completion)
    return bool(parsed_gold and parsed_pred and verify(parsed_gold, parsed_pred, timeout_seconds=None))
