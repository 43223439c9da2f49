"""Verifier re-ranking at toy scale: greedy vs maj@16 vs best-of-16 vs weighted vote vs cluster re-ranking.

    python bench/verifier_toy.py                       # seeds 1 2 3, tiny_llama on arith, CPU (~10 min a seed)
    python bench/verifier_toy.py --seeds 1 verifier=pairwise

Each seed runs `python -m mathlit task=verifier` into bench/out/verifier_toy/seed<S>/: the generator is the
SFT model of bench/rft_toy.py's run of that seed when there is one (else an SFT stage first); it samples
8 candidates for each of 1000 training questions; a token-head verifier starts from the generator and
trains 300 steps; then 16 samples per held-out problem (500) are re-ranked. A finished seed is read back,
not re-run. Results in bench/out/verifier_toy.json.
"""

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from runs import run_once

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))  # mathlit, when run as a script
METHODS = ("greedy", "maj", "best_of", "weighted", "cluster", "pass")


def SFT(seed: int) -> Path:
    """The SFT model of bench/rft_toy.py's run of this seed."""
    return OUT / "rft_toy" / f"seed{seed}" / "sft" / "hf"


def last_validation(run_dir: Path) -> dict:
    """The verifier's last logged validation metrics (held-out questions' candidates)."""
    rows = [r for path in (run_dir / "verifier" / "logs").rglob("metrics.csv") for r in csv.DictReader(open(path))]
    logged = [r for r in rows if r.get("val/accuracy")]  # AUROC is absent when one label is missing
    return {k.removeprefix("val/"): float(v) for k, v in logged[-1].items() if k.startswith("val/") and v}


def likelihood_scores(records: list[dict], generator: Path, batch_size: int = 64) -> list[float]:
    """exp(mean token log-prob) of each completion (+ EOS) under the generator: the generator's own
    confidence, a verifier that needs no training (Liu et al. score solutions by likelihood too)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mathlit.data.batching import pad_batch
    from mathlit.data.tokenize import IGNORE, encode_sft

    tokenizer = AutoTokenizer.from_pretrained(generator)
    model = AutoModelForCausalLM.from_pretrained(generator).eval()
    scores: list[float] = []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        batch = pad_batch(
            encode_sft(tokenizer, [r["prompt"] for r in chunk], [r["completion"] for r in chunk]),
            tokenizer.pad_token_id,
        )
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        mask = labels != IGNORE
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        scores += torch.exp((logp * mask).sum(1) / mask.sum(1)).tolist()
    return scores


def likelihood_rerank(run_dir: Path, generator: Path, n: int) -> dict:
    """Re-ranking of the same test samples with likelihood scores; both scores' AUROC on them."""
    from mathlit.metrics.rerank import rerank_summary
    from mathlit.metrics.verifier import auroc

    cache = run_dir / "likelihood.json"
    if cache.exists():
        return json.loads(cache.read_text())
    records = [json.loads(line) for line in open(run_dir / "test" / "sampled" / "samples.jsonl")]
    scores = likelihood_scores(records, generator)
    trained = {(r["id"], r["sample_idx"]): r["score"] for r in map(json.loads, open(run_dir / "test" / "scored.jsonl"))}
    labels = [bool(r["correct"]) for r in records]
    summary = rerank_summary([r | {"score": s} for r, s in zip(records, scores, strict=True)])
    result = {name: summary[f"{name}@{n}"] for name in ("best_of", "weighted", "cluster")}
    result["auroc_likelihood"] = auroc(scores, labels)
    result["auroc_verifier"] = auroc([trained[(r["id"], r["sample_idx"])] for r in records], labels)
    cache.write_text(json.dumps(result, indent=2) + "\n")
    return result


def run_seed(seed: int, n: int, overrides: list[str]) -> dict:
    run_dir = OUT / "verifier_toy" / f"seed{seed}"
    settings = ["task=verifier", f"seed={seed}", f"eval.n={n}", "sampler=vllm", "sampler.gpu_memory_utilization=0.2"]
    if (SFT(seed) / "model.safetensors").exists():
        settings.append(f"verifier.generator_path={SFT(seed)}")
    metrics_file = run_once(run_dir, "metrics.json", [*settings, *overrides])
    metrics = json.loads(metrics_file.read_text())["rerank"]
    generator = Path(metrics["verifier"]).parents[1] / "generator" / "hf"
    generator = generator if generator.exists() else SFT(seed)
    row = {"seed": seed, "greedy": metrics["greedy"]}
    row |= {name: metrics[f"{name}@{n}"] for name in METHODS[1:]}
    return row | {"validation": last_validation(run_dir), "likelihood": likelihood_rerank(run_dir, generator, n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n", type=int, default=16, help="samples per held-out problem")
    parser.add_argument("overrides", nargs="*", help="more config overrides for every run")
    args = parser.parse_args()

    rows = [run_seed(seed, args.n, args.overrides) for seed in args.seeds]
    means = {name: statistics.mean(row[name] for row in rows) for name in METHODS}
    gaps = {
        f"{a}-{b}": [row[a] - row[b] for row in rows]
        for a, b in (("best_of", "maj"), ("cluster", "maj"), ("maj", "greedy"), ("best_of", "greedy"))
    }
    summary = {"n": args.n, "overrides": args.overrides, "seeds": rows, "mean": means, "gaps": gaps}
    (OUT / "verifier_toy.json").write_text(json.dumps(summary, indent=2) + "\n")

    n = args.n
    names = ["greedy", f"maj@{n}", f"best-of-{n}", f"weighted@{n}", f"cluster@{n}", f"pass@{n}", "val AUROC"]
    print("| seed | " + " | ".join(names) + " |")
    print("|---:" * (len(names) + 1) + "|")
    for row in rows:
        cells = [f"{100 * row[m]:.1f}%" for m in METHODS] + [f"{row['validation'].get('auroc', float('nan')):.3f}"]
        print(f"| {row['seed']} | " + " | ".join(cells) + " |")
    print("| mean | " + " | ".join(f"{100 * means[m]:.1f}%" for m in METHODS) + " | |")
    print(f"\nThe same test samples scored by the generator's own likelihood (AUROC on the {n} x test samples):")
    print(f"| seed | AUROC trained verifier | AUROC likelihood | best-of-{n} | weighted@{n} | cluster@{n} |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        lik = row["likelihood"]
        print(
            f"| {row['seed']} | {lik['auroc_verifier']:.3f} | {lik['auroc_likelihood']:.3f} "
            f"| {100 * lik['best_of']:.1f}% | {100 * lik['weighted']:.1f}% | {100 * lik['cluster']:.1f}% |"
        )
    print(
        "| mean | | | "
        + " | ".join(
            f"{100 * statistics.mean(row['likelihood'][m] for row in rows):.1f}%"
            for m in ("best_of", "weighted", "cluster")
        )
        + " |"
    )
    for name, values in gaps.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"{name}: {100 * statistics.mean(values):+.1f} ± {100 * spread:.1f} points (per seed: "
            + ", ".join(f"{100 * v:+.1f}" for v in values)
            + ")"
        )


if __name__ == "__main__":
    main()
