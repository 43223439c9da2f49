"""The end of a stage writes its finished checkpoint and then releases the optimizer state and gradients,
before sampling starts in on_fit_end (where a vLLM engine needs the GPU memory they hold)."""

import torch
from lightning.pytorch.callbacks import Callback

from mathlit.models.release import finish_stage
from mathlit.training import fit_stage, sft_parts
from tests.conftest import MICRO_MODEL, make_cfg


class SamplesAtFitEnd(Callback):
    """Where the RFT callback samples: what the trainer still holds then."""

    def on_fit_end(self, trainer, module):
        finish_stage(trainer)
        self.optimizer_state = sum(len(o.state) for o in trainer.optimizers)
        self.grads = sum(p.grad is not None for p in module.parameters())
        self.checkpoint_step = torch.load(
            trainer.default_root_dir + "/checkpoints/last.ckpt", weights_only=False, map_location="cpu"
        )["global_step"]


def test_the_optimizer_state_is_gone_before_sampling_and_kept_in_the_finished_checkpoint(tmp_path, tokenizer):
    cfg = make_cfg("debug=fast", *MICRO_MODEL, "trainer.max_steps=2", run_dir=tmp_path)
    probe = SamplesAtFitEnd()
    result = fit_stage(cfg, *sft_parts(cfg, tokenizer), tmp_path, callbacks=[probe])
    assert probe.optimizer_state == 0 and probe.grads == 0
    assert probe.checkpoint_step == result.global_step == 2  # written before the state went
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    # fit_stage wrote no second, stateless checkpoint over it: a resumed run continues with Adam's moments
    assert saved["global_step"] == 2 and len(saved["optimizer_states"][0]["state"]) > 0
