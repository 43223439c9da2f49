"""Sample, grade and store: the records every metric, filter and verifier reads.

Problems are sampled in shards, each written atomically as its own file, so an interrupted run
resumes without redoing finished shards and never leaves a half-written line. A manifest pins
the settings (problems, prompts, gold answers, sampling parameters) and the weights (a digest of
their content, mathlit.models.digest): resuming with other settings is refused instead of mixing two
experiments; other weights under the same name (a folder overwritten since) make every shard stale,
so they are sampled again, never reused.
"""

import hashlib
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

from mathlit.answers import extract, is_equiv
from mathlit.data.formats import Example
from mathlit.data.tokenize import format_prompt
from mathlit.errors import ConfigError
from mathlit.io import parse_jsonl, write_json, write_jsonl
from mathlit.sampling.base import Sampler, SamplingParams

log = logging.getLogger(__name__)
SHARD_SIZE = 64  # problems per shard: the unit of resumption


def grade(example: Example, prompt: str, index: int, text: str, num_tokens: int, finish_reason: str) -> dict:
    answer = extract(text, example.domain)
    return {
        "id": example.id,
        "sample_idx": index,
        "prompt": prompt,
        "completion": text,
        "answer": answer,
        "gold": example.answer,
        "correct": is_equiv(answer, example.answer, example.domain),
        "num_tokens": num_tokens,
        "finish_reason": finish_reason,
        "domain": example.domain,
        "question": example.question,
        "meta": example.meta,
    }


def _settings(examples: list[Example], template: str, params: SamplingParams) -> str:
    # The prompts and gold answers themselves, not only the ids: an edited data file changes them.
    problems = hashlib.sha256()
    for e in examples:
        problems.update(json.dumps([e.id, format_prompt(template, e.question), e.answer, e.domain]).encode())
    return json.dumps({"problems": problems.hexdigest(), "params": asdict(params)}, sort_keys=True)


def _check_manifest(out_dir: Path, settings: str, source: str) -> None:
    """Refuse other settings; drop the shards (and samples.jsonl) of other weights, then pin these."""
    shards = out_dir / "shards"
    manifest = shards / "manifest.json"
    pinned = {"settings": settings, "source": source}
    stored = json.loads(manifest.read_text()) if manifest.exists() else pinned
    if stored.get("settings", settings) != settings:  # (a manifest older than "settings" only loses its shards)
        raise ConfigError(f"{shards} holds samples made with other settings; remove it or choose another output folder")
    if stored != pinned:
        log.warning("%s: samples of other weights (%s, now %s): sampling again", shards, stored.get("source"), source)
        # Shards first, manifest last: a run killed in between still finds the old manifest and finishes this.
        for path in [out_dir / "samples.jsonl", *shards.glob("0*.jsonl")]:
            path.unlink(missing_ok=True)
    write_json(manifest, pinned)


def sample_records(
    sampler: Sampler,
    examples: list[Example],
    *,
    template: str,
    params: SamplingParams,
    out_dir: str | Path,
    source: str,
    shard_size: int | None = None,
) -> list[dict]:
    """Sample params.n completions per example into out_dir/samples.jsonl; returns all records in order.

    `source` names the exact weights (mathlit.models.digest) so that stored shards come from the same model.
    """
    out_dir = Path(out_dir)
    shard_size = shard_size or SHARD_SIZE
    shards = out_dir / "shards"
    _check_manifest(out_dir, _settings(examples, template, params), source)
    records: list[dict] = []
    for index, start in enumerate(range(0, len(examples), shard_size)):
        path = shards / f"{index:05d}.jsonl"
        if path.exists():
            rows, _ = parse_jsonl(path, lambda row, lineno: row)
        else:
            chunk = examples[start : start + shard_size]
            prompts = [format_prompt(template, e.question) for e in chunk]
            # A seed per shard: a resumed shard draws what it would have drawn in one go.
            completions = sampler.generate(prompts, replace(params, seed=params.seed * 100_003 + index))
            rows = [
                grade(e, p, i, c.text, c.num_tokens, c.finish_reason)
                for e, p, cs in zip(chunk, prompts, completions, strict=True)
                for i, c in enumerate(cs)
            ]
            write_jsonl(path, rows)
        records += rows
    write_jsonl(out_dir / "samples.jsonl", records)
    return records
