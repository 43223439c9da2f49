"""Sample, grade and store: the records every metric, filter and verifier reads.

Problems are sampled in shards, each written atomically as its own file, so an interrupted run
resumes without redoing finished shards and never leaves a half-written line. A manifest pins
the settings (problems, prompts, gold answers, sampling parameters) and the weights (a digest of
their content, mathlit.models.digest): resuming with other settings is refused instead of mixing two
experiments; other weights under the same name (a folder overwritten since) make every shard stale,
so they are sampled again, never reused. Each shard's SHA-256 is recorded beside it when it is written
(00000.jsonl.sha256: a file per shard, as the jobs of an array write theirs into one folder at once): a shard
edited since, or one without its record (a kill between the two), is named and sampled again, so stored grades
are never trusted on their word. samples.jsonl has its record too, checked when a user passes it back
(eval.samples_path, read_samples): that file is the user's own, so a mismatch is refused, not redone.
"""

import hashlib
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

from mathlit.answers.grading import Grading, grade_answer
from mathlit.data.formats import Example
from mathlit.data.tokenize import format_prompt
from mathlit.errors import ConfigError, DataError
from mathlit.io import checksum_path, checksum_problem, parse_jsonl, write_json, write_jsonl
from mathlit.sampling.base import Sampler, SamplingParams
from mathlit.sampling.progress import ShardProgress
from mathlit.sampling.ranks import ALONE, Ranks

log = logging.getLogger(__name__)
SHARD_SIZE = 64  # problems per shard: the unit of resumption


def grade(
    example: Example, prompt: str, index: int, text: str, num_tokens: int, finish_reason: str, grading: Grading
) -> dict:
    """One sample's record; grading never raises (a failure is the record's answer_error)."""
    graded = grade_answer(text, example.answer, example.domain, grading)
    return {
        "id": example.id,
        "sample_idx": index,
        "prompt": prompt,
        "completion": text,
        **graded,
        "gold": example.answer,
        "num_tokens": num_tokens,
        "finish_reason": finish_reason,
        "domain": example.domain,
        "question": example.question,
        "meta": example.meta,
    }


def parse_part(value: str | None, key: str) -> tuple[int, int]:
    """ "i/n" (config `key`): this job samples shards i, i+n, i+2n, ... of every sampling pass; None: all."""
    if value is None:
        return 0, 1
    mine, _, count = str(value).partition("/")
    if not (mine.isdigit() and count.isdigit() and int(mine) < int(count)):
        raise ConfigError(f"{key}={value}: expected i/n with 0 <= i < n, e.g. {key}=0/2")
    return int(mine), int(count)


def read_samples(path: str | Path, fields: tuple[str, ...], config_key: str) -> list[dict]:
    """A samples.jsonl file given by the user (`config_key`), as `sample_records` writes it: a row without one of
    the `fields` its reader needs is a DataError naming file:line and the field, not a KeyError later."""

    recorded = checksum_path(path)
    if recorded.exists() and (why := checksum_problem(path)):
        raise DataError(
            f"{path} (set by {config_key}): {why}; restore it, or remove {recorded.name} if you edited it on purpose"
        )

    def parse(row: dict, lineno: int) -> dict:
        if missing := [k for k in fields if k not in row]:
            raise DataError(f"missing field {missing[0]!r}: a samples row needs {', '.join(fields)}")
        return row

    return parse_jsonl(path, parse, config_key=config_key)[0]


def _read_shard(path: Path, chunk: list[Example], n: int) -> list[dict]:
    rows, _ = parse_jsonl(path, lambda row, lineno: row)
    # Every (question, sample) of the shard exactly once: a shard from another split or another n is refused.
    if [(r["id"], r["sample_idx"]) for r in rows] != [(e.id, i) for e in chunk for i in range(n)]:
        raise ConfigError(f"{path}: not the {n} samples of each of its {len(chunk)} problems; remove it")
    return rows


def _settings(examples: list[Example], template: str, params: SamplingParams, grading: Grading) -> str:
    # The prompts and gold answers themselves, not only the ids: an edited data file changes them.
    problems = hashlib.sha256()
    for e in examples:
        problems.update(json.dumps([e.id, format_prompt(template, e.question), e.answer, e.domain]).encode())
    settings = {"problems": problems.hexdigest(), "params": asdict(params), "grading": asdict(grading)}
    return json.dumps(settings, sort_keys=True)


def _manifest(out_dir: str | Path) -> dict | None:
    """What the samples in out_dir were made with ({settings, source}); None before any were."""
    manifest = Path(out_dir) / "shards" / "manifest.json"
    return json.loads(manifest.read_text()) if manifest.exists() else None


def stored_source(out_dir: str | Path) -> str | None:
    """The weights (mathlit.models.digest) the samples in out_dir come from; None before any were made."""
    return (_manifest(out_dir) or {}).get("source")


def _refuse_other_settings(out_dir: Path, settings: str) -> None:
    """Samples made with other settings are refused (read only: every rank of a run checks the same manifest)."""
    stored = _manifest(out_dir) or {}
    if stored.get("settings", settings) != settings:  # (a manifest older than "settings" only loses its shards)
        shards = out_dir / "shards"
        raise ConfigError(f"{shards} holds samples made with other settings; remove it or choose another output folder")


def _pin_manifest(out_dir: Path, settings: str, source: str) -> None:
    """Drop the shards (and samples.jsonl) of other weights, then pin these weights and settings."""
    shards = out_dir / "shards"
    pinned = {"settings": settings, "source": source}
    stored = _manifest(out_dir)
    if stored is not None and stored != pinned:
        log.warning("%s: samples of other weights (%s, now %s): sampling again", shards, stored.get("source"), source)
        # Shards first, manifest last: a run killed in between still finds the old manifest and finishes this.
        stale = [out_dir / "samples.jsonl", out_dir / "samples.jsonl.sha256", *shards.glob("0*.jsonl*")]
        for path in stale:
            path.unlink(missing_ok=True)
    write_json(shards / "manifest.json", pinned)


def sample_records(
    sampler: Sampler,
    examples: list[Example],
    *,
    template: str,
    params: SamplingParams,
    out_dir: str | Path,
    grading: Grading,
    source: str,
    shard_size: int | None = None,
    part: tuple[int, int] = (0, 1),
    ranks: Ranks = ALONE,
) -> list[dict] | None:
    """Sample params.n completions per example into out_dir/samples.jsonl; returns all records in order.

    `source` names the exact weights (mathlit.models.digest) so that stored shards come from the same model;
    `grading` (answers.extract, answers.rel_tol) is pinned with the other settings.
    part=(i, n): sample only shards i, i+n, ... (one job of an array); None while others' shards are missing.
    `ranks`: the processes of the run that call this together (mathlit.sampling.ranks): each samples its share
    of the part, then all wait for one another and read every shard; only rank 0 writes the manifest and
    samples.jsonl.
    """
    out_dir = Path(out_dir)
    settings = _settings(examples, template, params, grading)
    _refuse_other_settings(out_dir, settings)
    if ranks.rank == 0:  # the folder's one writer of run-level files
        _pin_manifest(out_dir, settings, source)
    ranks.wait()  # no rank samples into the folder while rank 0 may still be clearing it
    job = dict(template=template, params=params, grading=grading, shard_size=shard_size or SHARD_SIZE)
    if ranks.world == 1:
        records = _sample_shards(sampler, examples, out_dir, part=part, any_bad=True, **job)
    else:
        mine, every = ranks.mine(part)
        log.info("%s: rank %d of %d samples shards %d, %d+%d, ...", out_dir, ranks.rank, ranks.world, mine, mine, every)
        _sample_shards(sampler, examples, out_dir, part=(mine, every), any_bad=False, write=ranks.writes, **job)
        ranks.wait()  # every rank's shards are on disk: each reads them all back, in order
        records = _sample_shards(sampler, examples, out_dir, part=ranks.mine(part), any_bad=False, **job)
    if records is not None and ranks.rank == 0:
        write_jsonl(out_dir / "samples.jsonl", records, checksum=True)
    return records


def _sample_shards(
    sampler: Sampler,
    examples: list[Example],
    out_dir: Path,
    *,
    template: str,
    params: SamplingParams,
    grading: Grading,
    shard_size: int,
    part: tuple[int, int],
    any_bad: bool,
    write: bool = True,
) -> list[dict] | None:
    """Every shard's records in order, sampling the missing shards of `part` and, with `any_bad`, any bad shard
    met (the jobs of an array); None while shards of others are missing. Without `any_bad` (ranks of one run) a
    shard is only ever written by the rank it belongs to; without `write` this rank samples its engine's shards
    beside the rank that writes them (the engine spans both)."""
    shards = out_dir / "shards"
    records: list[dict] = []
    missing = 0
    progress = ShardProgress(f"sampling {out_dir}", len(examples), params.n, shard_size, part)
    for index, start in enumerate(range(0, len(examples), shard_size)):
        path = shards / f"{index:05d}.jsonl"
        chunk = examples[start : start + shard_size]
        why = checksum_problem(path) if path.exists() else None
        ours = index % part[1] == part[0]
        if why and (ours or any_bad):  # sampled again by whichever job meets it: the array's last never waits for it
            log.warning("%s: %s: sampling it again", path, why)
        if path.exists() and not why:
            rows = _read_shard(path, chunk, params.n)
            progress.shard_done(index, len(rows), resumed=True)
        elif not ours and not (why and any_bad):
            missing += 1
            continue
        else:
            prompts = [format_prompt(template, e.question) for e in chunk]
            # A seed per shard: a resumed shard draws what it would have drawn in one go, whoever samples it.
            completions = sampler.generate(prompts, replace(params, seed=params.seed * 100_003 + index))
            rows = [
                grade(e, p, i, c.text, c.num_tokens, c.finish_reason, grading) | c.meta
                for e, p, cs in zip(chunk, prompts, completions, strict=True)
                for i, c in enumerate(cs)
            ]
            if write:
                write_jsonl(path, rows, checksum=True)
            progress.shard_done(index, len(rows))
        records += rows
    if missing:
        log.info("%s: %d shards left to the other jobs or ranks", shards, missing)
        return None
    return records
