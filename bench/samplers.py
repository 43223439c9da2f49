"""Sampling throughput, vLLM against transformers generate, on the same tiny-model job in one run.

    python bench/samplers.py --model outputs/sft/<run>/hf      # a trained folder (default: random tiny_llama)

Job: 64 held-out arith prompts x 8 samples at temperature 0.7, up to 160 new tokens. Reports generated
tokens per second of each backend (engine start-up reported apart), written to bench/out/samplers.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tiny_folder(path: Path) -> Path:
    """A random-init model of the default tiny_llama architecture, saved as an HF folder."""
    import torch

    from mathlit.models.build import build_model, load_tokenizer, save_hf
    from tests.conftest import make_cfg

    cfg = make_cfg().model
    torch.manual_seed(0)
    tokenizer = load_tokenizer(cfg)
    return save_hf(build_model(cfg, tokenizer), tokenizer, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--backends", default="hf,vllm", help="comma-separated, run in this order")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. sampler.dtype=float32")
    args = parser.parse_args()

    from omegaconf import OmegaConf

    from mathlit.data.arith import generate
    from mathlit.data.tokenize import format_prompt
    from mathlit.models.build import load_tokenizer
    from mathlit.sampling import make_sampler
    from mathlit.sampling.base import SamplingParams
    from tests.conftest import make_cfg

    folder = args.model or tiny_folder(ROOT / "bench" / "out" / "tiny_random")
    engine = ["sampler.gpu_memory_utilization=0.2", "sampler.max_model_len=512"]
    cfg = make_cfg(f"model.path={folder}", *engine, *args.overrides)
    tokenizer = load_tokenizer(cfg.model)
    _, test = generate(OmegaConf.merge(cfg.data.arith, {"num_train": 0, "num_test": args.prompts}))
    prompts = [format_prompt(cfg.data.prompt_template, e.question) for e in test]
    params = SamplingParams(n=args.n, temperature=0.7, max_new_tokens=args.max_new_tokens, seed=0)

    report = {"model": str(folder), "prompts": len(prompts), "n": args.n, "max_new_tokens": args.max_new_tokens}
    for backend in args.backends.split(","):
        started = time.perf_counter()
        backend_cfg = OmegaConf.merge(cfg.sampler, {"name": backend, "batch_size": 128})
        sampler = make_sampler(backend_cfg, tokenizer, model_dir=folder, seed=0)
        ready = time.perf_counter()
        completions = sampler.generate(prompts, params)
        done = time.perf_counter()
        sampler.close()
        tokens = sum(c.num_tokens for cs in completions for c in cs)
        report[backend] = {
            "start_s": round(ready - started, 1),
            "generate_s": round(done - ready, 1),
            "tokens": tokens,
            "tokens_per_s": round(tokens / (done - ready)),
        }
        print(
            f"{backend:<5} start {ready - started:5.1f} s  generate {done - ready:6.1f} s  "
            f"{tokens} tokens  {tokens / (done - ready):8.0f} tokens/s",
            flush=True,
        )
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "samplers.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
