"""A verifier's training data by sampling: graded solutions of the training and validation questions."""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import Splits
from mathlit.evaluation import sample_solutions
from mathlit.models.digest import folder_digest
from mathlit.sampling import Sampler


def candidates(
    cfg: DictConfig, sampler: Sampler, generator_dir: str | Path, splits: Splits, out_dir: str | Path
) -> tuple[list[dict], list[dict]]:
    """verifier.samples_per_question graded samples of each training question and each validation question,
    with the generator saved in `generator_dir` (which `sampler` holds), in out_dir/train and out_dir/val."""
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
    return train, val
