"""SFT training throughput, mathlit against TRL's SFTTrainer, padded and packed, on the same job in one run.

    nice -n 15 python bench/train_throughput.py --steps 8 --batch 16 --micro 8    # pip install mathlit[bench]

Job: the first steps x batch GSM8K training examples under data=gsm8k's prompt, tokenised once by mathlit
(prompt masked, response + EOS as targets) and given to both trainers as they are; the same random-init
tiny LLaMA (model=tiny_llama, fp32, seed 0); AdamW at a constant lr, gradient clipping 1.0; loss on the
response tokens only, averaged over each optimizer step's tokens; one pass over the examples.
Batches: global `--batch` examples in micro-batches of `--micro` (accumulation batch/micro). Packed:
mathlit packs each step's examples into rows of data.max_length (512); TRL packs the whole set
(best-fit decreasing, padding-free, position ids) into rows of 512 and takes `micro x mean length / 512`
rows per micro-batch, so that its steps hold about as many tokens as the others'.

Each configuration runs in its own process (peak RSS is that process's). Reported: seconds of training
(train start to end, no set-up), target and all (non-pad) tokens per second, peak RSS, and the mean
response-token loss on 64 held-out examples afterwards (same code for all). Written to
outputs/bench/train_throughput.json and printed as a markdown table.
"""

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = ["mathlit-padded", "mathlit-packed", "trl-padded", "trl-packed"]
HELD_OUT = 64
MAX_LENGTH = 512
LR = 3e-3


def job(args):
    """(config, tokenizer, train examples, held-out encoded examples), identical for every configuration."""
    from mathlit.data.datamodule import sft_encoder
    from mathlit.data.formats import load_examples
    from mathlit.models.build import load_tokenizer
    from tests.conftest import make_cfg

    n = args.steps * args.batch
    cfg = make_cfg(
        "data=gsm8k",
        f"data.max_length={MAX_LENGTH}",
        "data.val_examples=0",
        "optim.schedule=constant",
        "optim.warmup_ratio=0",
        f"optim.lr={LR}",
        "trainer.gradient_clip_val=1.0",
        f"trainer.global_batch_size={args.batch}",
        f"trainer.micro_batch_size={args.micro}",
        f"trainer.max_steps={args.steps}",
        "trainer.max_epochs=1",
        "trainer.val_every_n_steps=null",
        "trainer.checkpoint_every_n_steps=1000000",
        "trainer.progress_bar=false",
        "trainer.resume=false",
        "seed=0",
    )
    tokenizer = load_tokenizer(cfg.model)
    examples, _ = load_examples(cfg.data.path, "data.path")
    encode = sft_encoder(cfg.data, tokenizer)

    def fitting(chosen):  # what mathlit's DataModule keeps (longer examples are dropped)
        return [e for e, enc in zip(chosen, encode(chosen), strict=True) if len(enc["input_ids"]) <= MAX_LENGTH]

    train, held_out = fitting(examples[: 2 * n])[:n], fitting(examples[-2 * HELD_OUT :])[-HELD_OUT:]
    return cfg, tokenizer, train, encode(held_out)


def initial_model(cfg, tokenizer):
    import torch

    from mathlit.models.build import build_model

    torch.manual_seed(0)
    return build_model(cfg.model, tokenizer)


def held_out_loss(model, held_out, pad_id) -> float:
    import torch

    from mathlit.data.batching import pad_batch
    from mathlit.modules.generator import response_loss_sum

    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(held_out), 16):
            loss, n = response_loss_sum(model, pad_batch(held_out[i : i + 16], pad_id))
            total, tokens = total + float(loss), tokens + int(n)
    return total / tokens


def run_mathlit(args, packed: bool, out_dir: Path) -> tuple[float, object]:
    import lightning as L
    from lightning.pytorch.callbacks import Callback
    from omegaconf import OmegaConf

    from mathlit.data.splits import Splits
    from mathlit.training import fit_stage, sft_parts

    cfg, tokenizer, train, held_out = job(args)
    cfg = OmegaConf.merge(cfg, {"data": {"packing": packed}, "run_dir": str(out_dir)})

    class Clock(Callback):
        def on_train_start(self, *_):
            self.start = time.perf_counter()

        def on_train_end(self, *_):
            self.seconds = time.perf_counter() - self.start

    clock = Clock()
    L.seed_everything(0)
    module, data = sft_parts(cfg, tokenizer, Splits(train, [], [], {}), initial_model(cfg, tokenizer))
    fit_stage(cfg, module, data, out_dir, callbacks=[clock])
    return clock.seconds, held_out_loss(module.model, held_out, data.pad_id)


def run_trl(args, packed: bool, out_dir: Path) -> tuple[float, object]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from mathlit.data.datamodule import sft_encoder
    from mathlit.data.tokenize import IGNORE

    cfg, tokenizer, train, held_out = job(args)
    encoded = sft_encoder(cfg.data, tokenizer)(train)
    dataset = Dataset.from_dict(
        {
            "input_ids": [e["input_ids"] for e in encoded],
            "completion_mask": [[int(t != IGNORE) for t in e["labels"]] for e in encoded],
        }
    )
    mean_length = sum(len(e["input_ids"]) for e in encoded) / len(encoded)
    rows = max(1, round(args.micro * mean_length / MAX_LENGTH)) if packed else args.micro
    config = SFTConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=rows,
        gradient_accumulation_steps=args.batch // args.micro,
        num_train_epochs=1,
        learning_rate=LR,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=cfg.optim.weight_decay,
        adam_beta1=cfg.optim.beta1,
        adam_beta2=cfg.optim.beta2,
        adam_epsilon=cfg.optim.eps,
        max_grad_norm=1.0,
        max_length=MAX_LENGTH,
        packing=packed,
        packing_strategy="bfd",
        completion_only_loss=True,
        use_cpu=True,
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        seed=0,
        dataloader_drop_last=True,
    )

    class Clock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.start = time.perf_counter()

        def on_train_end(self, *_, **__):
            self.seconds = time.perf_counter() - self.start

    clock = Clock()
    model = initial_model(cfg, tokenizer)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[clock])
    trainer.train()
    pad_id = tokenizer.pad_token_id
    return clock.seconds, held_out_loss(trainer.model, held_out, pad_id)


def one(args) -> None:
    """Run one configuration in this process and print its figures as a json line."""
    from mathlit.data.batching import target_tokens
    from mathlit.data.datamodule import sft_encoder

    out_dir = ROOT / "outputs" / "bench" / "train_throughput" / args.one
    shutil.rmtree(out_dir, ignore_errors=True)
    trainer, layout = args.one.split("-")
    run = run_mathlit if trainer == "mathlit" else run_trl
    seconds, loss = run(args, layout == "packed", out_dir)
    cfg, tokenizer, train, _ = job(args)
    encoded = sft_encoder(cfg.data, tokenizer)(train)
    targets, tokens = sum(target_tokens(e) for e in encoded), sum(len(e["input_ids"]) for e in encoded)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "config": args.one,
                "examples": len(train),
                "train_seconds": round(seconds, 1),
                "target_tokens_per_s": round(targets / seconds),
                "tokens_per_s": round(tokens / seconds),
                "peak_rss_mib": round(rss),
                "held_out_loss": round(loss, 4),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--configs", nargs="+", default=CONFIGS, choices=CONFIGS)
    parser.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    rows = []
    for config in args.configs:
        command = [sys.executable, __file__, "--one", config]
        command += ["--steps", str(args.steps), "--batch", str(args.batch), "--micro", str(args.micro)]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if result.returncode:
            sys.exit(f"{config} failed:\n{result.stderr[-3000:]}")
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    trl_padded = next((r for r in rows if r["config"] == "trl-padded"), None)
    print("\n| configuration | train s | target tok/s | all tok/s | vs TRL padded | peak RSS MiB | held-out loss |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['tokens_per_s'] / trl_padded['tokens_per_s']:.2f}x" if trl_padded else "-"
        print(
            f"| {r['config']} | {r['train_seconds']} | {r['target_tokens_per_s']:,} | {r['tokens_per_s']:,} | "
            f"{ratio} | {r['peak_rss_mib']:,} | {r['held_out_loss']:.3f} |"
        )
    out = ROOT / "outputs" / "bench" / "train_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "produced_by": produced_by(), "rows": rows}, indent=1))
    assert all(math.isfinite(r["held_out_loss"]) for r in rows)


def produced_by() -> dict:
    """What made these figures: the command, when, where, and the versions that set the speed."""
    import datetime
    import importlib.metadata
    import os
    import platform

    versions = {}
    for package in ("torch", "transformers", "trl", "lightning", "datasets"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "versions": versions,
    }


if __name__ == "__main__":
    main()
