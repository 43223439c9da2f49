"""A verifier's training data by sampling: graded solutions of the training and validation questions."""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.answers.grading import Grading
from mathlit.data.splits import Splits
from mathlit.data.verifier import make_candidates
from mathlit.datagen.rollouts import first_wrong_steps
from mathlit.evaluation import sample_solutions
from mathlit.models.digest import folder_digest
from mathlit.sampling import Sampler, SamplingParams


def candidates(
    cfg: DictConfig, sampler: Sampler, generator_dir: str | Path, splits: Splits, out_dir: str | Path
) -> tuple[list[dict], list[dict]]:
    """verifier.samples_per_question graded samples of each training question and each validation question,
    with the generator saved in `generator_dir` (which `sampler` holds), in out_dir/train and out_dir/val.
    With verifier.objective=process and verifier.process_labels=rollouts, each wrong training sample the
    verifier trains on also gets `first_wrong_step` from verifier.rollouts completions of its step prefixes
    (out_dir/rollouts); validation samples keep the annotation labels (their AUROC reads the final score)."""
    v, out_dir = cfg.verifier, Path(out_dir)
    settings = {
        "n": v.samples_per_question,
        "temperature": v.temperature,
        "top_p": 1.0,
        "max_new_tokens": v.max_new_tokens,
        "source": folder_digest(generator_dir),
    }
    train = sample_solutions(cfg, sampler, splits.train, out_dir / "train", **settings)
    val = sample_solutions(cfg, sampler, splits.val, out_dir / "val", **settings) if splits.val else []
    if v.objective == "process" and v.process_labels == "rollouts":
        params = SamplingParams(
            n=v.rollouts,
            temperature=v.temperature,
            max_new_tokens=v.max_new_tokens,
            stop=tuple(cfg.sampler.stop),
            seed=cfg.seed,
        )
        # Only the wrong samples the verifier will train on (make_candidates picks the same ones again).
        chosen = make_candidates(
            train, splits.train, balance=v.balance, include_reference=v.include_reference, seed=cfg.seed
        )
        wrong = {(c.question, c.solution) for c in chosen if not c.correct}
        first = first_wrong_steps(
            [r for r in train if (r["question"], r["completion"]) in wrong],
            splits.train,
            sampler=sampler,
            template=cfg.data.prompt_template,
            params=params,
            out_dir=out_dir / "rollouts",
            grading=Grading.from_config(cfg),
            source=settings["source"],
        )
        for r in train:  # read by make_candidates, in memory only: samples.jsonl stays as sampled
            if (key := (r["question"], r["completion"])) in first:
                r["first_wrong_step"] = first[key]
    return train, val
