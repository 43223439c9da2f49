"""Sequence packing (`data.packing=true`): several examples per row, none attending to another.

A packed micro-batch holds the same examples an unpacked one would draw for its step (see batching.py),
laid end to end in rows of at most `data.max_length` tokens (best-fit decreasing). Each example keeps its
own position ids (0, 1, ...) and the batch has no attention_mask: from position ids that restart,
transformers builds a block-diagonal causal mask for SDPA/eager and flash-attention runs varlen (the
module flattens the rows into one for flash-attention, which detects packing only at batch size 1).
"""

import torch

from mathlit.data.tokenize import IGNORE


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins (lists of indices into `lengths`) of total length <= capacity; longest items first, each into
    the fullest bin it fits. Deterministic: ties keep index order."""
    bins: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        fits = [b for b in range(len(bins)) if room[b] >= lengths[i]]
        if fits:
            best = min(fits, key=lambda b: room[b])
            bins[best].append(i)
            room[best] -= lengths[i]
        else:
            bins.append([i])
            room.append(capacity - lengths[i])
    return bins


def deal(indices: list[int], lengths: list[int], parts: int) -> list[list[int]]:
    """Split `indices` into `parts` groups of nearly equal total length (longest first, to the lightest
    group), so that ranks and accumulation micro-batches carry similar work. Each group is non-empty when
    there are at least `parts` indices."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    for i in sorted(indices, key=lambda i: (-lengths[i], i)):
        g = min(range(parts), key=lambda g: (load[g], len(groups[g])))
        groups[g].append(i)
        load[g] += lengths[i]
    return groups


def pack_batch(examples: list[dict], capacity: int, pad_id: int) -> dict[str, torch.Tensor]:
    """{input_ids, labels, position_ids} of examples packed into rows of at most `capacity` tokens.

    Each example's first label is IGNORE: it would be predicted from the previous example's last token
    (unpacked, no token predicts it either). Rows are right-padded to the longest; padding has its own
    position ids and IGNORE labels, so it is a segment of its own that no example sees.
    """
    if any(set(e) != {"input_ids", "labels"} for e in examples):
        raise ValueError("data.packing=true packs examples of one sequence (input_ids, labels) only")
    rows = [[examples[i] for i in b] for b in best_fit_decreasing([len(e["input_ids"]) for e in examples], capacity)]
    width = max(sum(len(e["input_ids"]) for e in row) for row in rows)
    ids, labels, positions = [], [], []
    for row in rows:
        r_ids, r_labels, r_pos = [], [], []
        for e in row:
            r_ids += e["input_ids"]
            r_labels += [IGNORE] + e["labels"][1:]
            r_pos += range(len(e["input_ids"]))
        pad = width - len(r_ids)
        ids.append(r_ids + [pad_id] * pad)
        labels.append(r_labels + [IGNORE] * pad)
        positions.append(r_pos + list(range(pad)))
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "position_ids": torch.tensor(positions)}
