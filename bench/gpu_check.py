"""One-shot GPU check: what mathlit's training does on one real GPU, measured in one short run.

    bash bench/gpu_check.sh              # on a GPU machine: ~3-5 minutes; prints a markdown block for RESULTS.md
    python bench/gpu_check.py --dry-run  # anywhere (CPU): tiny shapes, a few steps; proves every check starts

Checks, each reported as ok (with its figures), skipped (with why) or failed (the run exits 1):
1. SFT throughput in bf16 (trainer.precision=bf16-mixed) of a random-init ~1B LLaMA-shaped model on GSM8K
   (the shipped files, mathlit's tokenizer), padded vs packed (data.packing=true: flash-attention varlen
   where flash-attn is installed, else SDPA with transformers' block-diagonal mask): tokens/s and MFU
   (6 N flops per token, attention excluded, against the GPU's dense bf16 peak).
2. The same packed SFT under trainer.strategy=fsdp2 on one GPU: that the sharded path runs, its tokens/s.
3. LoRA (model.lora.r=16, every linear layer) on a 7B-shaped model (LLaMA-2 7B's shapes, bf16 weights,
   activation checkpointing): peak GPU memory and seconds per step of a few packed steps; QLoRA
   (model.quantization=4bit) the same where bitsandbytes is installed.
4. HF generate tokens/s on the ~1B model (16 prompts, greedy).
5. vLLM sampling: only where vLLM is installed (it is not carried to the GPU machine).
"""

import argparse
import importlib.util
import json
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


def sft(args, *overrides: str) -> dict:
    """A short SFT stage through mathlit's own fit_stage; tokens/s over the steps after the first."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from mathlit.data.batching import length
    from mathlit.models.build import load_tokenizer
    from mathlit.training import fit_stage, sft_parts
    from tests.conftest import make_cfg

    steps, batch = (2, 8) if args.dry_run else (12, 32)
    out = args.out / "sft" / "_".join(o.split("=")[-1] for o in overrides)
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


def lora_memory(args, quantization: str) -> dict:
    """A few packed LoRA steps on a 7B-shaped model: peak memory and seconds per step."""
    import torch

    from mathlit.data.datamodule import sft_encoder
    from mathlit.data.formats import load_examples
    from mathlit.data.packing import pack_batch
    from mathlit.models.build import load_tokenizer
    from mathlit.models.lora import add_lora
    from mathlit.modules.generator import response_loss_sum
    from tests.conftest import make_cfg

    if quantization != "none" and importlib.util.find_spec("bitsandbytes") is None:
        return {"skipped": "bitsandbytes is not installed"}
    if quantization != "none":  # QLoRA quantizes weights loaded from a folder: save the random 7B once
        return {"skipped": "QLoRA needs a saved 7B folder; not written here to keep the run short"}
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


def vllm(args) -> dict:
    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vLLM is not installed"}
    return {"skipped": "vLLM is installed but this check does not time it yet (bench/samplers.py does)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU: every check starts")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "gpu_check")
    args = parser.parse_args()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here; use --dry-run", file=sys.stderr)
        return 1
    env = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and not args.dry_run else "cpu",
        "torch": torch.__version__,
        **{pkg: importlib.util.find_spec(pkg) is not None for pkg in ("flash_attn", "bitsandbytes", "vllm")},
    }
    checks = {
        "sft padded": lambda: sft(args),
        "sft packed": lambda: sft(args, "data.packing=true"),
        "sft packed fsdp2": lambda: sft(args, "data.packing=true", "trainer.strategy=fsdp2", "trainer.devices=1"),
        "lora 7b-shaped": lambda: lora_memory(args, "none"),
        "qlora 7b-shaped": lambda: lora_memory(args, "4bit"),
        "hf generate": lambda: generate(args),
        "vllm": lambda: vllm(args),
    }
    results, failed = {}, False
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as e:  # a failed check is reported and the others still run
            traceback.print_exc()
            results[name] = {"failed": f"{type(e).__name__}: {e}"[:300]}
            failed = True
        print(f"{name}: {results[name]}", flush=True)
    print(f"\n### GPU check ({'dry run' if args.dry_run else env['device']})\n")
    print(f"Environment: `{json.dumps(env)}`\n")
    print("| check | result |\n|---|---|")
    for name, result in results.items():
        print(f"| {name} | {', '.join(f'{k}={v}' for k, v in result.items())} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
