"""gathered_model: a sharded trainer's LM as a plain module, gathered once per optimizer step."""

from types import SimpleNamespace

import lightning as L
import torch
from lightning.pytorch.strategies import ModelParallelStrategy
from transformers import LlamaConfig, LlamaForCausalLM

from mathlit.models.gather import gathered_model


class CountingStrategy(ModelParallelStrategy):
    """Stands in for a sharded strategy: hands out the module's full state dict and counts the gathers."""

    def __init__(self, module):
        self.module, self.gathers = module, 0

    def lightning_module_state_dict(self):
        self.gathers += 1
        return self.module.state_dict()


def test_the_weights_of_one_step_are_gathered_once():
    module = L.LightningModule()
    config = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    module.model = LlamaForCausalLM(config)
    strategy = CountingStrategy(module)
    trainer = SimpleNamespace(strategy=strategy, is_global_zero=True, global_step=3)

    first = gathered_model(trainer, module)  # the sampling callback at the end of the stage
    assert gathered_model(trainer, module) is first and strategy.gathers == 1  # the export after it
    ids = torch.tensor([[1, 5, 7]])
    torch.testing.assert_close(first(input_ids=ids).logits, module.model(input_ids=ids).logits)
    assert first is not module.model

    trainer.global_step = 4  # trained further: a new copy
    assert gathered_model(trainer, module) is not first and strategy.gathers == 2
