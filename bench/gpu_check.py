"""One-shot GPU check: what mathlit's training does on one real GPU, measured in one short run.

    bash bench/gpu_check.sh              # on a GPU machine: ~5 minutes; prints a markdown block for RESULTS.md
    python bench/gpu_check.py --dry-run  # anywhere (CPU): tiny shapes, a few steps; proves every check starts

Checks, each reported as ok (with its figures), skipped (with why) or failed (the run exits 1). Each trains into
its own folder under --out, emptied first, so it measures a fresh run; results.json there keeps what passed, and a
rerun on the same machine (same device, packages, mode) redoes only the checks that failed or never ran and
says which it reused (--fresh redoes all).
1. SFT throughput in bf16 (trainer.precision=bf16-mixed) of a random-init ~1B LLaMA-shaped model on GSM8K
   (the shipped files, mathlit's tokenizer), padded vs packed (data.packing=true: flash-attention varlen
   where flash-attn is installed, else SDPA with transformers' block-diagonal mask): tokens/s and MFU
   (6 N flops per token, attention excluded, against the GPU's dense bf16 peak).
2. The same packed SFT under trainer.strategy=fsdp2 on one GPU: that the sharded path runs, its tokens/s.
3. The documented 7B command's code path (`task=rft model=llama2_7b ... data=gsm8k`: scale=llama2_7b's FSDP,
   bf16-mixed, norm clipping at 1.0, flash-attention asked for, packed) at a ~100M shape, under
   trainer.strategy=fsdp and fsdp2: SFT, sampling between stages (vLLM where installed, with its bf16 engine,
   the in-memory weight sync and its probe at round 2; else HF generate), two RFT rounds, evaluation.
   FSDP1 needs CUDA: the dry run runs fsdp2 only.
4. LoRA (model.lora.r=16, every linear layer) on a 7B-shaped model (LLaMA-2 7B's shapes, bf16 weights,
   activation checkpointing): peak GPU memory and seconds per step of a few packed steps.
5. QLoRA (model.quantization=4bit through fit_stage, from a saved random folder) where bitsandbytes is installed.
6. HF generate tokens/s on the ~1B model (16 prompts, greedy).
7. A few task=grpo steps (rl.algorithm=grpo, sampler=hf: transformers generation, bf16-mixed) of a random-init
   model of Qwen2.5-0.5B's shapes, from a saved folder: seconds per step (sampling and training apart, from the
   run's rl/sample_seconds and rl/train_seconds) and peak GPU memory.
8. One vLLM engine, as each rank of a run starts its own (one per GPU), on a random-init model of Qwen2.5-0.5B's
   shapes from a saved folder: seconds to start, seconds to load new weights from memory (the sync between RFT
   stages and GRPO steps), and samples/s and tokens/s of 64 prompts x 8 samples at temperature 1. Skipped where
   vLLM is not installed.
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense bf16 peak flops (no sparsity), for MFU.
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}
SHAPES = {  # (hidden, intermediate, layers, heads, kv heads)
    "1b": (2048, 5632, 22, 32, 4),  # TinyLlama-1.1B's
    "7b": (4096, 11008, 32, 32, 32),  # LLaMA-2 7B's
    "100m": (768, 2048, 12, 12, 4),  # the RFT and QLoRA checks: small enough to sample and evaluate quickly
    "0.5b": (896, 4864, 24, 14, 2),  # Qwen2.5-0.5B's (in a LLaMA: no q/k/v bias, untied embeddings): the GRPO check
    "tiny": (64, 128, 2, 2, 2),  # --dry-run
}


def arch(shape: str) -> list[str]:
    hidden, inter, layers, heads, kv = SHAPES[shape]
    return [
        f"model.arch.hidden_size={hidden}",
        f"model.arch.intermediate_size={inter}",
        f"model.arch.num_hidden_layers={layers}",
        f"model.arch.num_attention_heads={heads}",
        f"model.arch.num_key_value_heads={kv}",
        "model.arch.max_position_embeddings=4096",
        "model.arch.tie_word_embeddings=false",
    ]


def peak_flops() -> float | None:
    import torch

    name = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    return next((flops for key, flops in PEAK_FLOPS.items() if key in name), None)


def sft(args, out: Path, *overrides: str) -> dict:
    """A short SFT stage through mathlit's own fit_stage; tokens/s over the steps after the first."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from mathlit.data.batching import length
    from mathlit.models.build import load_tokenizer
    from mathlit.training import fit_stage, sft_parts
    from tests.conftest import make_cfg

    steps, batch = (2, 8) if args.dry_run else (12, 32)
    cfg = make_cfg(
        "data=gsm8k",
        *arch("tiny" if args.dry_run else "1b"),
        f"trainer.accelerator={'cpu' if args.dry_run else 'gpu'}",
        f"trainer.precision={'32-true' if args.dry_run else 'bf16-mixed'}",
        f"model.attn_implementation={'sdpa' if args.dry_run else 'flash_attention_2'}",  # sdpa without flash-attn
        f"trainer.max_steps={steps}",
        f"data.max_train_examples={steps * batch}",
        "data.val_examples=0",
        f"trainer.global_batch_size={batch}",
        f"trainer.micro_batch_size={batch // 2}",
        "trainer.val_every_n_steps=null",
        "trainer.checkpoint_every_n_steps=1000000",
        "trainer.progress_bar=false",
        "logger=csv",
        *overrides,
        run_dir=out,
    )

    class Clock(Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_before_optimizer_step(self, trainer, *_):  # once per optimizer step
            if trainer.strategy.root_device.type == "cuda":
                import torch

                torch.cuda.synchronize()
            self.times.append(time.perf_counter())

    clock = Clock()
    tokenizer = load_tokenizer(cfg.model)
    L.seed_everything(0)
    module, data = sft_parts(cfg, tokenizer)
    fit_stage(cfg, module, data, out, callbacks=[clock])
    per_step = sum(length(e) for e in data.train_set) / len(data.train_set) * batch  # real tokens (no padding)
    seconds = (clock.times[-1] - clock.times[0]) / (len(clock.times) - 1)
    params = sum(p.numel() for p in module.model.parameters())
    result = {"params_M": round(params / 1e6), "tokens_per_s": round(per_step / seconds), "s_per_step": seconds}
    if (peak := peak_flops()) is not None:
        result["mfu_%"] = round(100 * 6 * params * per_step / seconds / peak, 1)
    return result


def lora_memory(args) -> dict:
    """A few packed LoRA steps on a 7B-shaped model: peak memory and seconds per step."""
    import torch

    from mathlit.data.datamodule import sft_encoder
    from mathlit.data.formats import load_examples
    from mathlit.data.packing import pack_batch
    from mathlit.models.build import load_tokenizer
    from mathlit.models.lora import add_lora
    from mathlit.modules.generator import response_loss_sum
    from tests.conftest import make_cfg

    cfg = make_cfg(
        "data=gsm8k",
        *arch("tiny" if args.dry_run else "7b"),
        "model.lora.r=16",
        "model.gradient_checkpointing=true",
        f"model.dtype={'float32' if args.dry_run else 'bfloat16'}",
        f"model.attn_implementation={'sdpa' if args.dry_run else 'flash_attention_2'}",
    )
    device = "cpu" if args.dry_run else "cuda"
    tokenizer = load_tokenizer(cfg.model)
    from transformers import LlamaConfig, LlamaForCausalLM

    from mathlit.models.build import attention_backend

    config = LlamaConfig(
        vocab_size=32000,
        attn_implementation=attention_backend(cfg.model.attn_implementation),
        **{k: v for k, v in cfg.model.arch.items()},
    )
    dtype = torch.float32 if args.dry_run else torch.bfloat16
    torch.manual_seed(0)
    with torch.device(device):  # built on the GPU: a 7B random init on the CPU takes minutes
        model = LlamaForCausalLM(config).to(dtype)
    model.gradient_checkpointing_enable()
    model = add_lora(model, cfg.model).train()
    examples, _ = load_examples(cfg.data.path, "data.path")
    encoded = sft_encoder(cfg.data, tokenizer)(examples[:64])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(2 if args.dry_run else 4):
        batch = {k: v.to(device) for k, v in pack_batch(encoded[step * 16 : (step + 1) * 16], 1024, 0).items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=not args.dry_run):
            loss_sum, tokens = response_loss_sum(model, batch)
        (loss_sum / tokens).backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result = {"params_M": round(sum(p.numel() for p in model.parameters()) / 1e6), "trainable_M": trainable / 1e6}
    result["s_per_step"] = round((times[-1] - times[0]) / (len(times) - 1), 3)
    if device == "cuda":
        result["peak_GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    return result


def generate(args) -> dict:
    import torch

    from mathlit.models.build import build_model, load_tokenizer
    from tests.conftest import make_cfg

    dtype = "float32" if args.dry_run else "bfloat16"
    cfg = make_cfg(*arch("tiny" if args.dry_run else "1b"), f"model.dtype={dtype}")
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer).to("cpu" if args.dry_run else "cuda").eval()
    ids = tokenizer(["Question: Tom has 3 apples and buys 5 more. How many?\nAnswer:\n"] * 16, return_tensors="pt")
    ids = ids.to(model.device)
    new = 8 if args.dry_run else 128
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
    seconds = time.perf_counter() - start
    return {"tokens_per_s": round((out.shape[1] - ids["input_ids"].shape[1]) * 16 / seconds)}


def small_run(args, out: Path, *overrides: str, random_init: bool = True):
    """The config of a short stage at the ~100M shape (tiny in the dry run) with the 7B scale's trainer settings:
    bf16-mixed, norm clipping at 1.0 (trainer/default.yaml), flash-attention asked for, packed examples."""
    from tests.conftest import make_cfg

    cfg = make_cfg(
        "data=gsm8k",
        *(arch("tiny" if args.dry_run else "100m") if random_init else []),
        f"trainer.accelerator={'cpu' if args.dry_run else 'gpu'}",
        "trainer.devices=1",
        f"trainer.precision={'32-true' if args.dry_run else 'bf16-mixed'}",
        "model.attn_implementation=flash_attention_2",  # sdpa (with a warning) where flash-attn or CUDA is missing
        "data.packing=true",
        "trainer.max_steps=2",
        "trainer.global_batch_size=8",
        "trainer.micro_batch_size=4",
        "data.max_train_examples=16",
        "data.val_examples=0",
        "data.max_test_examples=4",
        "trainer.val_every_n_steps=null",
        "trainer.checkpoint_every_n_steps=1000000",
        "trainer.progress_bar=false",
        "sampler.max_new_tokens=32",
        "logger=csv",
        *overrides,
        run_dir=out,
    )
    assert cfg.trainer.gradient_clip_val == 1.0  # the documented commands clip: so does the check
    return cfg


def rft(args, out: Path, strategy: str) -> dict:
    """task=rft with two rounds: SFT, sample, filter, fine-tune, sample again (the weight sync into the running
    engine, and its probe), fine-tune, evaluate every stage."""
    from mathlit.tasks import run_task

    if strategy == "fsdp" and args.dry_run:
        return {"skipped": "FSDP1 needs CUDA (the dry run checks fsdp2)"}
    vllm = importlib.util.find_spec("vllm") is not None
    sampler = ["sampler=vllm", "sampler.gpu_memory_utilization=0.3", "sampler.max_model_len=1024"] if vllm else []
    if vllm and not args.dry_run:
        sampler.append("sampler.dtype=bfloat16")  # scale=llama2_7b's engine
    cfg = small_run(
        args,
        out,
        "task=rft",
        f"trainer.strategy={strategy}",
        "rft.rounds=2",
        "rft.k=2",
        "rft.max_questions=8",
        "rft.max_new_tokens=32",
        *sampler,
    )
    start = time.perf_counter()
    run_task(cfg)
    stages = json.loads((out / "metrics.json").read_text())["stages"]
    return {
        "sampler": "vllm" if vllm else "hf",
        "stages": "+".join(s["stage"] for s in stages),
        "steps": sum(s["steps"] for s in stages),
        "s": round(time.perf_counter() - start),
    }


def qlora(args, out: Path) -> dict:
    """model.quantization=4bit through fit_stage, from a saved random folder: the QLoRA loading, placement and
    training path (bitsandbytes' CPU backend in the dry run)."""
    import torch

    from mathlit.models.build import build_model, load_tokenizer, save_hf
    from mathlit.training import fit_stage, sft_parts

    if importlib.util.find_spec("bitsandbytes") is None:
        return {"skipped": "bitsandbytes is not installed"}
    base = small_run(args, out / "base", "model.dtype=bfloat16" if not args.dry_run else "model.dtype=float32")
    tokenizer = load_tokenizer(base.model)
    save_hf(build_model(base.model, tokenizer), tokenizer, out / "base" / "hf")
    cfg = small_run(
        args,
        out,
        "model=hf",
        f"model.path={out / 'base' / 'hf'}",
        "model.lora.r=8",
        "model.quantization=4bit",
        "model.gradient_checkpointing=true",
        random_init=False,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    module, data = sft_parts(cfg, tokenizer)
    result = fit_stage(cfg, module, data, out)
    figures = {"steps": result.global_step, "s": round(time.perf_counter() - start)}
    if torch.cuda.is_available():
        figures["peak_GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return figures


def grpo(args, out: Path) -> dict:
    """A few task=grpo steps from a saved random folder of Qwen2.5-0.5B's shapes: every step samples a group per
    question from the current weights with transformers' generate, grades, and updates. A random model earns no
    reward, so every advantage is 0; the step still generates, recomputes log-probs and backpropagates the loss."""
    import csv

    import torch

    from mathlit.models.build import build_model, load_tokenizer, save_hf
    from mathlit.tasks import run_task
    from tests.conftest import make_cfg

    dry = args.dry_run
    base = make_cfg(*arch("tiny" if dry else "0.5b"), f"model.dtype={'float32' if dry else 'bfloat16'}")
    tokenizer = load_tokenizer(base.model)
    model = build_model(base.model, tokenizer)
    params = sum(p.numel() for p in model.parameters())
    save_hf(model, tokenizer, out / "base" / "hf")
    del model
    steps, questions, group, new_tokens = (2, 2, 2, 8) if dry else (4, 8, 8, 256)
    cfg = small_run(  # its trainer settings; packing and trainer.max_steps do not apply to task=grpo
        args,
        out,
        "task=grpo",
        "model=hf",
        f"model.path={out / 'base' / 'hf'}",
        "sampler=hf",
        f"rl.max_steps={steps}",
        f"rl.questions_per_step={questions}",
        f"rl.group_size={group}",
        f"rl.max_new_tokens={new_tokens}",
        f"trainer.micro_batch_size={group}",
        "eval.n=0",
        random_init=False,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    run_task(cfg)
    (log,) = (out / "grpo").rglob("metrics.csv")
    rows = [r for r in csv.DictReader(log.open()) if r.get("rl/sample_seconds")][1:]  # the first step warms up
    sample, train = (sum(float(r[f"rl/{k}_seconds"]) for r in rows) / len(rows) for k in ("sample", "train"))
    result = {
        "params_M": round(params / 1e6),
        "steps": steps,
        "samples_per_step": questions * group,
        "max_new_tokens": new_tokens,
        "s_per_step": round(sample + train, 2),
        "sample_s": round(sample, 2),
        "train_s": round(train, 2),
    }
    if torch.cuda.is_available():
        result["peak_GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    return result


def vllm_engine(args, out: Path) -> dict:
    """One engine's start, an in-memory weight load into it, and its sampling rate (check 8)."""
    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vLLM is not installed (pip install 'mathlit[gpu-vllm]')"}
    from mathlit.models.build import build_model, load_tokenizer, save_hf
    from mathlit.sampling import SamplingParams, make_sampler
    from tests.conftest import make_cfg

    dry = args.dry_run
    cfg = make_cfg(
        *arch("tiny" if dry else "0.5b"),
        f"model.dtype={'float32' if dry else 'bfloat16'}",
        "sampler=vllm",
        "sampler.gpu_memory_utilization=0.3",
        "sampler.max_model_len=1024",
    )
    tokenizer = load_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer)
    folder = save_hf(model, tokenizer, out / "hf")
    start = time.perf_counter()
    engine = make_sampler(cfg.sampler, tokenizer, model_dir=folder, seed=cfg.seed)
    figures = {"start_s": round(time.perf_counter() - start, 1)}
    try:
        start = time.perf_counter()
        engine.load_weights(model.state_dict(), "check", cfg.rft.sync_timeout_s)
        figures["weight_load_s"] = round(time.perf_counter() - start, 2)
        prompts, new = ["Question: Tom has 3 apples and buys 5 more. How many?\nAnswer:\n"] * 64, 16 if dry else 256
        start = time.perf_counter()
        completions = engine.generate(prompts, SamplingParams(n=8, temperature=1.0, max_new_tokens=new))
        seconds = time.perf_counter() - start
    finally:
        engine.close()
    samples = [c for cs in completions for c in cs]
    tokens = sum(c.num_tokens for c in samples)
    return figures | {"samples_per_s": round(len(samples) / seconds, 1), "tokens_per_s": round(tokens / seconds)}


CHECKS = {  # name -> (folder, check(args, folder))
    "sft padded": ("sft_padded", lambda args, out: sft(args, out)),
    "sft packed": ("sft_packed", lambda args, out: sft(args, out, "data.packing=true")),
    "sft packed fsdp2": (
        "sft_packed_fsdp2",
        lambda args, out: sft(args, out, "data.packing=true", "trainer.strategy=fsdp2", "trainer.devices=1"),
    ),
    "rft fsdp": ("rft_fsdp", lambda args, out: rft(args, out, "fsdp")),
    "rft fsdp2": ("rft_fsdp2", lambda args, out: rft(args, out, "fsdp2")),
    "lora 7b-shaped": ("lora", lambda args, out: lora_memory(args)),
    "qlora": ("qlora", qlora),
    "hf generate": ("generate", lambda args, out: generate(args)),
    "grpo 0.5b-shaped": ("grpo", grpo),
    "vllm engine 0.5b-shaped": ("vllm_engine", vllm_engine),
}


def earlier_results(path: Path, env: dict) -> dict:
    """The checks that passed in an earlier run in the same environment (mode, device, packages)."""
    if not path.is_file():
        return {}
    earlier = json.loads(path.read_text())
    if earlier.get("env") != env:
        return {}
    return {name: r for name, r in earlier["results"].items() if "failed" not in r}


def code_digest() -> str:
    """sha256 of mathlit's and this script's Python files: what the checks ran."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "mathlit").rglob("*.py"), *(ROOT / "callbacks").rglob("*.py"), Path(__file__)]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU: every check starts")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "gpu_check")
    parser.add_argument("--fresh", action="store_true", help="redo every check, also those that passed before")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("mathlit").setLevel(logging.INFO)  # the engine's weight versions and probe gaps
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here; use --dry-run", file=sys.stderr)
        return 1
    env = {
        "mode": "dry run" if args.dry_run else "gpu",
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and not args.dry_run else "cpu",
        "torch": torch.__version__,
        **{pkg: importlib.util.find_spec(pkg) is not None for pkg in ("flash_attn", "bitsandbytes", "vllm")},
        "code": code_digest(),  # a result of older code is never reused as a pass of this code
    }
    record = args.out / "results.json"
    reused = {} if args.fresh else earlier_results(record, env)
    results, failed = {}, False
    for name, (folder, check) in CHECKS.items():
        if name in reused:
            results[name] = reused[name] | {"reused": True}
            print(f"{name}: {results[name]} (passed in an earlier run: not redone; --fresh redoes it)", flush=True)
            continue
        out = args.out / folder
        shutil.rmtree(out, ignore_errors=True)  # a fresh run: never a resumed, finished checkpoint
        try:
            results[name] = check(args, out)
        except Exception as e:  # a failed check is reported and the others still run
            traceback.print_exc()
            results[name] = {"failed": f"{type(e).__name__}: {e}"[:300]}
            failed = True
        print(f"{name}: {results[name]}", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        fresh = {n: {k: v for k, v in r.items() if k != "reused"} for n, r in results.items()}
        record.write_text(json.dumps({"env": env, "results": fresh}, indent=1))  # after every check: a kill keeps it
    print(f"\n### GPU check ({'dry run' if args.dry_run else env['device']})\n")
    print(f"Environment: `{json.dumps(env)}`\n")
    print("| check | result |\n|---|---|")
    for name, result in results.items():
        print(f"| {name} | {', '.join(f'{k}={v}' for k, v in result.items())} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
