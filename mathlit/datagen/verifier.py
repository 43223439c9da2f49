"""A verifier's training data by sampling: graded solutions of the training and validation questions."""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import Splits
from mathlit.data.verifier import make_candidates
from mathlit.datagen.rollouts import first_wrong_steps
from mathlit.sampling.policy import Policy


def candidates(
    cfg: DictConfig, generator: Policy, splits: Splits, out_dir: str | Path
) -> tuple[list[dict], list[dict]]:
    """verifier.samples_per_question graded samples of each training question and each validation question
    by the `generator`, in out_dir/train and out_dir/val; called on every rank of the run, which sample together
    once torch.distributed is up (mathlit.sampling.ranks).
    With verifier.objective=process and verifier.process_labels=rollouts, each wrong training sample the
    verifier trains on also gets `first_wrong_step` from verifier.rollouts completions of its step prefixes
    (out_dir/rollouts); validation samples keep the annotation labels (their AUROC reads the final score)."""
    v, out_dir = cfg.verifier, Path(out_dir)
    # Every rank calls this (the tasks' `train`): each samples its share of the shards, all get every record.
    train = generator.sample(splits.train, out_dir / "train", "candidates", together=True)
    val = generator.sample(splits.val, out_dir / "val", "candidates", together=True) if splits.val else []
    if v.objective == "process" and v.process_labels == "rollouts":
        # Only the wrong samples the verifier will train on (make_candidates picks the same ones again).
        chosen = make_candidates(
            train, splits.train, balance=v.balance, include_reference=v.include_reference, seed=cfg.seed
        )
        wrong = {(c.question, c.solution) for c in chosen if not c.correct}
        first = first_wrong_steps(
            [r for r in train if (r["question"], r["completion"]) in wrong],
            splits.train,
            generator,
            template=cfg.data.prompt_template,
            out_dir=out_dir / "rollouts",
            together=True,
        )
        for r in train:  # read by make_candidates, in memory only: samples.jsonl stays as sampled
            if (key := (r["question"], r["completion"])) in first:
                r["first_wrong_step"] = first[key]
    return train, val
