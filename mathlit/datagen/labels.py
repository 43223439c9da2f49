"""A new question has no gold answer: its label is the majority answer of m sampled solutions (OpenMathInstruct-2),
and its training paths are the solutions that agree with the label and pass RFT's filters."""

from dataclasses import dataclass

from mathlit.answers import is_equiv
from mathlit.datagen.filters import Selection, select_paths
from mathlit.metrics.pass_at_k import cluster_answers


@dataclass(frozen=True)
class Label:
    answer: str | None  # None: no majority
    share: float  # the majority cluster's share of all m solutions (no-answer solutions count against it)
    reason: str = ""  # no_answer | tie | below_threshold when answer is None


def majority_label(records: list[dict], min_share: float) -> Label:
    """The answer most solutions reach (equivalence by is_equiv), when it is unique and its share >= min_share."""
    clusters = sorted(cluster_answers(records), key=len, reverse=True)
    if not clusters:
        return Label(None, 0.0, "no_answer")
    share = len(clusters[0]) / len(records)
    if len(clusters) > 1 and len(clusters[1]) == len(clusters[0]):
        return Label(None, share, "tie")
    if share < min_share:
        return Label(None, share, "below_threshold")
    return Label(clusters[0][0]["answer"], share)


def agreeing_paths(records: list[dict], label: str) -> Selection:
    """The solutions whose answer equals the label, in the training format, calculations holding, distinct."""
    graded = [r | {"correct": is_equiv(r.get("answer"), label, r["domain"])} for r in records]
    return select_paths(graded, reference=None)
