"""A GRPO run's curves from its stored files (not its logs, which a resumed run splits over versions):
the mean reward of each step's samples, and the test accuracy of each evaluation during training."""

import json
from pathlib import Path


def reward_curve(rollouts_dir: str | Path) -> dict[int, float]:
    """step -> mean reward over every sample drawn that step (<rollouts_dir>/<step>/[rank*/]draw*/rewards.jsonl)."""
    curve = {}
    for step_dir in sorted(p for p in Path(rollouts_dir).glob("*") if p.name.isdigit()):
        rewards = [json.loads(line)["reward"] for f in sorted(step_dir.rglob("rewards.jsonl")) for line in f.open()]
        if rewards:
            curve[int(step_dir.name)] = sum(rewards) / len(rewards)
    return curve


def accuracy_curve(evals_dir: str | Path) -> dict[int, float]:
    """steps done -> greedy test accuracy (<evals_dir>/<steps>/metrics.json, rl.eval_every)."""
    curve = {}
    for path in sorted(Path(evals_dir).glob("*/metrics.json")):
        if path.parent.name.isdigit():
            curve[int(path.parent.name)] = json.loads(path.read_text())["greedy_accuracy"]
    return curve
