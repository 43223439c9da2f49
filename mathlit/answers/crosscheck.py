"""answers.crosscheck: where would a reported number move under the field's reference checker?

Every sample graded with answers.crosscheck=true carries the verdicts of mathlit alone and of math-verify alone
(grading.crosscheck). This counts them for metrics.json and writes the samples where they differ, one file per
pass, so a user can read each disagreement beside its completion.
"""

from pathlib import Path

from mathlit.io import write_jsonl

DIFFER_FILE = "crosscheck_differ.jsonl"
_KEPT = ("id", "sample_idx", "gold", "answer", "answer_source", "correct", "decided_by", "crosscheck", "completion")


def crosscheck_metrics(passes: dict[str, list[dict] | None], out_dir: str | Path) -> dict:
    """{"crosscheck": {pass: summary}} for the passes whose records were cross-checked (pass name -> records;
    each pass's differing samples go to out_dir/<pass>/crosscheck_differ.jsonl); {} when none were, so that
    `metrics |= crosscheck_metrics(...)` adds nothing to a run with answers.crosscheck=false."""
    report = {}
    for name, records in passes.items():
        checked = [r for r in records or () if "crosscheck" in r]
        if not checked:
            continue
        differ = [r for r in checked if not r["crosscheck"]["agree"]]
        path = Path(out_dir) / name / DIFFER_FILE
        write_jsonl(path, [{k: r[k] for k in _KEPT if k in r} for r in differ])
        report[name] = {
            "samples": len(checked),
            "differ": len(differ),
            "only_mathlit_correct": sum(r["crosscheck"]["mathlit"] for r in differ),
            "only_math_verify_correct": sum(r["crosscheck"]["math_verify"] for r in differ),
            "accuracy_mathlit": sum(r["crosscheck"]["mathlit"] for r in checked) / len(checked),
            "accuracy_math_verify": sum(r["crosscheck"]["math_verify"] for r in checked) / len(checked),
            "accuracy_graded": sum(bool(r.get("correct")) for r in checked) / len(checked),
            "decided_by_fallback": sum(r.get("decided_by") == "fallback" for r in checked),
            "differ_file": str(path),
        }
    return {"crosscheck": report} if report else {}
