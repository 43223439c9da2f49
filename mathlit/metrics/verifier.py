"""How well scores separate correct from incorrect solutions. Pure functions over lists."""


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a random correct solution outscores a random incorrect one (ties count half).
    None when one of the classes is absent."""
    ranked = sorted(zip(scores, labels, strict=True), key=lambda x: x[0])
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks (1-based) over runs of equal scores
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2
        rank_sum += average_rank * sum(label for _, label in ranked[i:j])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def accuracy(scores: list[float], labels: list[bool], threshold: float = 0.0) -> float:
    """Share of solutions on the right side of `threshold` (a logit: 0 is probability 1/2)."""
    return sum((s > threshold) == bool(y) for s, y in zip(scores, labels, strict=True)) / max(1, len(labels))


def best_of_n(qids: list[int], scores: list[float], labels: list[bool]) -> float:
    """Share of questions whose highest-scoring solution is correct (ties go to the first seen)."""
    best: dict[int, tuple[float, bool]] = {}
    for q, s, y in zip(qids, scores, labels, strict=True):
        if q not in best or s > best[q][0]:
            best[q] = (s, bool(y))
    return sum(y for _, y in best.values()) / max(1, len(best))


def within_question_auroc(qids: list, scores: list[float], labels: list[bool]) -> float | None:
    """Mean AUROC over the questions that have both correct and incorrect solutions: how well the scores rank a
    question's own solutions, which is what best-of-N and re-ranking use. A score that only knows which questions
    are hard separates solutions when pooled (auroc) and is 0.5 here. None when no question is mixed."""
    by_question: dict = {}
    for q, s, y in zip(qids, scores, labels, strict=True):
        question_scores, question_labels = by_question.setdefault(q, ([], []))
        question_scores.append(s)
        question_labels.append(bool(y))
    mixed = [auroc(s, y) for s, y in by_question.values() if 0 < sum(y) < len(y)]
    return sum(mixed) / len(mixed) if mixed else None
