"""A sampler that follows the weights being trained, round after round of data generation.

`hf` samples with the given in-memory model itself. `vllm` starts one engine, from a folder (the
weights' own, or a copy saved once), and later rounds load new weights into it in memory; every
load is followed by a log-prob probe that raises when the engine does not hold the trainer's
weights. Between rounds the engine sleeps: on GPU the training needs the memory.
"""

import logging
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.config import SamplerConfig
from mathlit.models.build import save_hf
from mathlit.sampling import Sampler, make_sampler

log = logging.getLogger(__name__)


class PolicySampler:
    def __init__(
        self,
        cfg: SamplerConfig,
        tokenizer: PreTrainedTokenizerBase,
        *,
        seed: int,
        init_dir: str | Path,
        probes: list[str],
        sync_timeout_s: float,
        probe_tolerance: float | None,
    ):
        self.cfg, self.tokenizer, self.seed, self.init_dir = cfg, tokenizer, seed, Path(init_dir)
        self.probes, self.sync_timeout_s, self.probe_tolerance = probes, sync_timeout_s, probe_tolerance
        self.engine = None  # the vLLM engine, kept across rounds

    def holding(self, model: PreTrainedModel, version: int | str, folder: Path | None = None) -> Sampler:
        """A sampler with `model`'s weights (named `version`, saved in `folder` if they are)."""
        if self.cfg.name != "vllm":
            return make_sampler(self.cfg, self.tokenizer, model=model)
        from mathlit.sampling.sync import check_in_sync

        if self.engine is None:  # an engine starts from a folder: the one trip through disk, if any
            folder = folder or save_hf(model, self.tokenizer, self.init_dir)
            self.engine = make_sampler(self.cfg, self.tokenizer, model_dir=folder, seed=self.seed)
            self.engine.version = version
        else:
            self.engine.wake_up()
        if self.engine.version != version:
            self.engine.load_weights(model.state_dict(), version, self.sync_timeout_s)
        gap = check_in_sync(self.engine, model, self.tokenizer, self.probes, self.probe_tolerance)
        log.info("vLLM engine holds weights version %s (probe log-prob gap %.2e)", version, gap)
        return self.engine

    def pause(self) -> None:
        """After a round: the engine sleeps until the next one."""
        if self.engine is not None:
            self.engine.sleep()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
