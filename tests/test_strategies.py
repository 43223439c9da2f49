"""Sharded training on CPU processes (gloo): FSDP2 and DDP over 2 ranks end where one process does, with norm
clipping on (trainer.gradient_clip_val as the 7B scales set it); FSDP1's settings, checked without a GPU.

Eight training subprocesses: one process (trained and untrained) once, each strategy, RFT under FSDP2 (sampled by
both ranks), and one process vs FSDP2 from a saved folder (rank 0 reads it, rank 1 receives the weights)."""

import subprocess
import sys

import pytest
from safetensors.torch import load_file

from mathlit.errors import ConfigError
from mathlit.strategies import build_strategy, check_strategy
from tests.conftest import DATA, MICRO_MODEL, ROOT, make_cfg


def train(run_dir, *overrides):
    command = [sys.executable, "-m", "mathlit", "debug=fast", *MICRO_MODEL, "trainer.accelerator=cpu"]
    # clipping as the 7B scales have it on, with a threshold every step's gradient norm exceeds
    command += ["trainer.gradient_clip_val=0.01", f"paths.data={DATA}", f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = run_dir / "hf" / "model.safetensors"
    return load_file(weights) if weights.exists() else None


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The weights one process trains, and the initial ones: the reference for every strategy."""
    out = tmp_path_factory.mktemp("one_process")
    initial = train(out / "initial", "trainer.devices=1", "trainer.max_steps=0")
    return train(out / "single", "trainer.devices=1"), initial


def test_one_process_training_moves_the_weights(one_process):
    single, initial = one_process  # the comparisons below are not vacuous
    assert max((single[n] - initial[n]).abs().max() for n in single) > 1e-3


@pytest.mark.parametrize("strategy", ["fsdp2", "ddp"])
def test_two_ranks_train_the_same_weights_as_one_process(tmp_path, strategy, one_process):
    single, _ = one_process
    sharded = train(tmp_path / strategy, f"trainer={strategy}", "trainer.devices=2")
    assert single.keys() == sharded.keys()
    for name, weight in single.items():
        assert (weight - sharded[name]).abs().max() < 1e-4, name


def test_two_ranks_load_model_path_through_rank_zero_and_train_the_same_weights(tmp_path):
    """Rank 1 builds the model on the meta device and receives rank 0's weights after sharding (models/shard.py):
    a wrong or missing broadcast would train from garbage on rank 1's shards."""
    folder = tmp_path / "start"
    train(folder, "trainer.devices=1", "trainer.max_steps=1")  # weights unlike any random init below
    weights = [f"model.path={folder / 'hf'}", "seed=7"]
    single = train(tmp_path / "single", "trainer.devices=1", *weights)
    sharded = train(tmp_path / "fsdp2", "trainer=fsdp2", "trainer.devices=2", *weights)
    for name, weight in single.items():
        assert (weight - sharded[name]).abs().max() < 1e-4, name


def test_ranks_but_zero_build_an_empty_model_under_sharded_strategies(tmp_path, tokenizer):
    from types import SimpleNamespace

    from lightning.pytorch.strategies import DDPStrategy

    from mathlit.models.build import build_model, save_hf
    from mathlit.models.shard import reads_weights

    folder = save_hf(build_model(make_cfg(*MICRO_MODEL).model, tokenizer), tokenizer, tmp_path / "hf")
    cfg = make_cfg("model=hf", f"model.path={folder}").model
    for strategy, rank, reads in [("fsdp", 1, False), ("fsdp2", 1, False), ("fsdp2", 0, True), ("ddp", 1, True)]:
        built = build_strategy(make_cfg(f"trainer.strategy={strategy}").trainer)
        module = SimpleNamespace(model_cfg=cfg, _trainer=SimpleNamespace(strategy=built, global_rank=rank))
        assert reads_weights(module) == reads, (strategy, rank)
    assert isinstance(built, DDPStrategy)
    empty = build_model(cfg, tokenizer, empty=True)
    assert all(p.is_meta for p in empty.parameters()) and empty.config.hidden_size == 32


def test_fsdp1_materialises_empty_modules_and_syncs_them_from_rank_zero():
    """FSDP1 needs a GPU for sync_module_states: here only the settings and the materialising function."""
    import torch

    from mathlit.strategies import materialize

    strategy = build_strategy(make_cfg("trainer=fsdp").trainer)
    assert strategy.kwargs["sync_module_states"] and strategy.kwargs["param_init_fn"] is materialize
    with torch.device("meta"):
        layer = torch.nn.Linear(4, 2)
    materialize(layer)
    assert layer.weight.device.type == "cpu" and not layer.weight.is_meta


def test_rft_sampling_callback_gathers_sharded_weights_once_and_every_rank_samples_its_share(tmp_path):
    # Rank 0 gathers the sharded weights and saves them once; both ranks sample from them, each its shards.
    args = ["task=rft", "trainer=fsdp2", "trainer.devices=2", "rft.k=2", "rft.max_questions=100"]
    train(tmp_path, *args, "data.max_train_examples=128", "rft.max_new_tokens=16")
    report = (tmp_path / "metrics.json").read_text()
    assert '"stage": "rft1"' in report
    round1 = tmp_path / "rft" / "round1"
    assert (round1 / "samples" / "samples.jsonl").read_text().count("\n") == 200
    assert (round1 / "weights" / "model.safetensors").exists()
    logs = "".join(log.read_text() for log in tmp_path.glob("*.log"))
    for rank in (0, 1):
        assert f"round1/samples: rank {rank} of 2 samples shards {rank}, {rank}+2, ..." in logs


@pytest.fixture
def one_rank_group():
    """A one-process gloo group: torch's FSDP1 wraps and clips on the CPU in it (Lightning refuses CPU FSDP)."""
    import socket

    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def fsdp1_strategy(precision: str):
    """The fsdp strategy with the precision plugin Lightning's Trainer hands it (FSDPPrecision)."""
    from lightning.pytorch.plugins.precision import FSDPPrecision

    strategy = build_strategy(make_cfg("trainer=fsdp").trainer)
    strategy.precision_plugin = FSDPPrecision(precision)
    return strategy


def test_fsdp1_clips_by_norm_through_the_root_module(one_rank_group):
    """Lightning's FSDPPrecision raises on norm clipping (Lightning#19235), at the 7B scales' first step."""
    import torch
    from lightning.pytorch.utilities import GradClipAlgorithmType
    from torch.distributed.fsdp import FullyShardedDataParallel

    strategy = fsdp1_strategy("bf16-mixed")
    layers = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    root = FullyShardedDataParallel(layers, device_id=torch.device("cpu"))
    strategy.precision_plugin.root = root  # what FSDP1Strategy.setup does once Lightning has wrapped the module
    root(torch.randn(8, 4)).sum().mul(100).backward()
    optimizer = torch.optim.SGD(root.parameters(), lr=0.1)
    strategy.precision_plugin.clip_gradients(optimizer, 1.0, GradClipAlgorithmType.NORM)
    assert torch.nn.utils.get_total_norm([p.grad for p in root.parameters()]) == pytest.approx(1.0, rel=1e-4)


def test_fsdp1_bf16_mixed_keeps_buffers_and_gradient_reduction_in_fp32():
    """RoPE's inv_freq is a buffer: in bf16 it would train and export unlike vLLM's fp32 one."""
    import torch

    config = fsdp1_strategy("bf16-mixed").mixed_precision_config
    assert (config.param_dtype, config.reduce_dtype, config.buffer_dtype) == (
        torch.bfloat16,
        torch.float32,
        torch.float32,
    )


@pytest.mark.parametrize("strategy", ["ddp", "fsdp", "fsdp2"])
def test_ranks_wait_in_a_collective_as_long_as_configured(strategy):
    """While rank 0 samples RFT data the other ranks wait in a broadcast: Lightning's default 30 minutes
    would let the NCCL watchdog abort the job."""
    from datetime import timedelta

    built = build_strategy(make_cfg(f"trainer.strategy={strategy}", "trainer.collective_timeout_s=7200").trainer)
    assert built._timeout == timedelta(hours=2)
    assert make_cfg().trainer.collective_timeout_s >= 6 * 3600


def test_auto_over_several_devices_is_ddp_with_the_configured_timeout():
    from datetime import timedelta

    from lightning.pytorch.strategies import DDPStrategy

    assert build_strategy(make_cfg("trainer.devices=1").trainer) == "auto"  # one process: no collective
    several = build_strategy(make_cfg("trainer.devices=-1", "trainer.collective_timeout_s=7200").trainer)
    assert isinstance(several, DDPStrategy) and several._timeout == timedelta(hours=2)


def test_every_strategy_refusal_is_one_check():
    lora_fsdp2 = make_cfg("model.lora.r=8", "trainer.strategy=fsdp2")
    with pytest.raises(ConfigError, match="model.lora.r=8 with trainer.strategy=fsdp2 is not supported"):
        check_strategy(lora_fsdp2)
    scalar = make_cfg("task=verifier", "verifier.head=scalar", "trainer.strategy=fsdp2")
    with pytest.raises(ConfigError, match="verifier.head=scalar is not sharded"):
        check_strategy(scalar)
    check_strategy(make_cfg("verifier.head=scalar", "trainer.strategy=fsdp2"))  # task=sft trains no verifier
