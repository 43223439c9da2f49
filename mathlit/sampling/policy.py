"""A Policy: one set of weights and everything that samples from them.

Every sampling step of every task goes through a Policy: the test evaluation, RFT rounds, a verifier's
candidates and rollouts, synth's calls and online-RL rollouts. It knows

- its weights: a saved HF folder, a model in memory, or both (a finished stage), or a server's model;
- their digest (`digest`), computed once: stored samples are reused only for the weights that made them;
- its sampler, started on the first `sample` (sampler.name: `hf` generates with the model in memory or
  loads the folder; `vllm` starts one engine from the folder, or from a copy of in-memory weights saved once
  (the ranks of a run that sample together: one engine each, all started at once, mathlit.sampling.vllm);
  `openai` sends requests to a server): a run whose samples are all on disk starts nothing;
- the sampling settings each purpose reads from the config (`sampling_params`) and the grading.

`load(model, version)` hands it new weights trained in memory (RFT rounds, online RL): a running vLLM engine
takes them without a trip through disk, and before it samples again a log-prob probe checks that it holds
them (mathlit.sampling.sync). `pause()` between uses lets a GPU engine sleep while training runs.

    policy = Policy(cfg, tokenizer, folder=OUT / "hf")
    records = policy.sample(test, out_dir / "greedy", "greedy")     # graded records, resumable shards
    policy.close()
"""

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.answers.grading import Grading
from mathlit.data.formats import Example
from mathlit.errors import ConfigError
from mathlit.models.digest import folder_digest, model_digest
from mathlit.models.lora import is_lora, merged_state_dict
from mathlit.sampling import Completion, Sampler, SamplingParams, make_sampler
from mathlit.sampling.ranks import ALONE, Ranks, run_ranks
from mathlit.sampling.records import sample_records

log = logging.getLogger(__name__)
PROBES = 4  # prompts whose log-probs check a weight sync

# Each purpose's (n, temperature, top_p, max_new_tokens) as config keys; None: the default (top_p 1.0,
# sampler.max_new_tokens); a number: that value.
PURPOSES = {
    "greedy": (1, 0.0, 1.0, None),  # one greedy completion per test problem (maj1@1)
    "eval": ("eval.n", "eval.temperature", "eval.top_p", None),  # N samples per test problem
    "rft": ("rft.k", "rft.temperature", "rft.top_p", "rft.max_new_tokens"),  # RFT's reasoning paths
    "candidates": ("verifier.samples_per_question", "verifier.temperature", 1.0, "verifier.max_new_tokens"),
    "rollouts": ("verifier.rollouts", "verifier.temperature", None, "verifier.max_new_tokens"),  # process labels
    # a generative verifier's checks at scoring, and a teacher's checks of its training candidates
    "rationales": ("verifier.rationales", "verifier.rationale_temperature", None, "verifier.rationale_max_new_tokens"),
    "teacher": ("verifier.teacher_samples", "verifier.temperature", None, "verifier.rationale_max_new_tokens"),
    "create": ("synth.per_seed", "synth.temperature", "synth.top_p", "synth.max_new_tokens"),  # synth's calls
    "verify": (1, "synth.temperature", "synth.top_p", "synth.max_new_tokens"),
    "answer": ("synth.answers", "synth.answer_temperature", "synth.top_p", None),
    "grpo": ("rl.group_size", "rl.temperature", "rl.top_p", "rl.max_new_tokens"),  # online RL's groups
}


def sampling_params(cfg: DictConfig, purpose: str) -> SamplingParams:
    """The sampling settings of one purpose (a key of PURPOSES), every value read from the config."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown sampling purpose {purpose!r}: one of {', '.join(PURPOSES)}")

    def value(spec, default):
        if spec is None:
            return default
        if isinstance(spec, str):
            section, key = spec.split(".")
            return cfg[section][key]
        return spec

    n, temperature, top_p, max_new_tokens = PURPOSES[purpose]
    return SamplingParams(
        n=value(n, 1),
        temperature=value(temperature, 0.0),
        top_p=value(top_p, 1.0),
        max_new_tokens=value(max_new_tokens, cfg.sampler.max_new_tokens),
        stop=tuple(cfg.sampler.stop),
        seed=cfg.seed,
    )


def check_greedy_copies(cfg: DictConfig) -> None:
    """At start-up: vLLM refuses several samples per prompt at temperature 0 (all would be the greedy one)."""
    if cfg.sampler.name != "vllm":
        return
    for purpose, (n, temperature, *_) in PURPOSES.items():
        params = sampling_params(cfg, purpose)
        if params.n > 1 and params.temperature == 0:
            raise ConfigError(
                f"{n}={params.n} with {temperature}=0: vLLM samples one completion per prompt at temperature 0 "
                f"(the rest would be copies of it); set {temperature} above 0 or {n}=1"
            )


class Policy:
    def __init__(
        self,
        cfg: DictConfig,
        tokenizer: PreTrainedTokenizerBase,
        *,
        folder: str | Path | None = None,
        model: PreTrainedModel | None = None,
        version: int | str = "initial",
        engine_dir: str | Path | None = None,
        sampler: Sampler | None = None,
        digest: str | None = None,
    ):
        """`folder`: the weights saved; `model`: the weights in memory (both: the same weights, a finished
        stage). `engine_dir`: where in-memory weights are saved once to start a vLLM engine (not needed when
        `folder` is given); with neither weights given, they come with the first `load` (weights in training).
        With no weights at all, sampler=openai samples the server's model. `sampler` and `digest`: a sampler
        already running and the name of the weights it holds (tests, or weights held elsewhere)."""
        if cfg.sampler.name == "openai" and (folder is not None or model is not None):
            raise ConfigError(
                "sampler=openai samples the server's model, not weights mathlit holds: sample those with "
                "sampler=hf or vllm"
            )
        no_weights = folder is None and model is None and sampler is None
        if no_weights and engine_dir is None and cfg.sampler.name != "openai":
            raise ConfigError(f"sampler={cfg.sampler.name} needs weights: a model folder (model.path) or a model")
        if folder is None and engine_dir is None and sampler is None and cfg.sampler.name == "vllm":
            raise ValueError("a Policy of weights in memory needs engine_dir to start a vLLM engine")
        self.cfg, self.tokenizer = cfg, tokenizer
        self.folder = Path(folder) if folder is not None else None
        self.model, self.version = model, version
        self.engine_dir = Path(engine_dir) if engine_dir is not None else None
        self.grading = Grading.from_config(cfg)
        self._sampler: Sampler | None = sampler
        self._given = sampler is not None
        self._digest: str | None = digest
        self._unprobed = False  # new weights in a running engine, not yet checked against the trainer's
        self._moved_from: torch.device | None = None  # where the model was before this Policy moved it to the GPU

    @property
    def digest(self) -> str:
        """Names the exact weights (mathlit.models.digest): the saved folder's when there is one."""
        if self._digest is None:
            if self.folder is not None:
                self._digest = folder_digest(self.folder)
            elif self.model is not None:
                self._digest = model_digest(self.model, self.tokenizer)
            elif self.cfg.sampler.name == "openai":  # a server's model: named by where it is served and as what
                s = self.cfg.sampler
                self._digest = f"server:{s.base_url}:{s.served_model}:{s.api}"
            else:
                raise ValueError("this Policy holds no weights yet: load() them first")
        return self._digest

    def describe(self) -> dict:
        """What samples (the provenance of rows it wrote)."""
        s = self.cfg.sampler
        if self.folder is not None:
            return {"sampler": f"{s.name}", "model": str(self.folder.resolve()), "weights": self.digest}
        if self.model is not None:
            model = f"{self.cfg.model.name} (in memory, {self.version})"
            return {"sampler": f"{s.name}", "model": model, "weights": self.digest}
        if s.name == "openai" and not self._given:
            return {"sampler": "openai", "base_url": s.base_url, "model": s.served_model, "api": f"{s.api}"}
        return {"sampler": "given", "weights": self.digest}  # a sampler handed in ready

    def sample(
        self,
        examples: list[Example],
        out_dir: str | Path,
        params: SamplingParams | str,
        *,
        template: str | None = None,
        part: tuple[int, int] = (0, 1),
        together: bool = False,
    ) -> list[dict] | None:
        """params.n graded completions per example in out_dir (resumable shards, see sampling.records);
        `params` or a purpose's settings (`sampling_params`); `template` defaults to data.prompt_template.
        part=(i, n): this job's shards only; None until every job's shards are on disk.
        together: every rank of the run calls this at once (each with these weights): each samples its share
        of the shards, and all return every record (mathlit.sampling.ranks); otherwise this process samples
        alone."""
        if isinstance(params, str):
            params = sampling_params(self.cfg, params)
        ranks = self.ranks(together)
        self._start_on_every_rank(ranks)  # also where this rank has no shard to sample: the start is collective
        return sample_records(
            self,
            examples,
            template=self.cfg.data.prompt_template if template is None else template,
            params=params,
            out_dir=out_dir,
            grading=self.grading,
            source=self.digest,
            part=part,
            ranks=ranks,
        )

    def ranks(self, together: bool) -> Ranks:
        """Who samples a call: every rank of the run when `together` (mathlit.sampling.ranks), else this process."""
        if not together:
            return ALONE
        engine = self.cfg.sampler.tensor_parallel_size if self.cfg.sampler.name == "vllm" else 1
        return run_ranks(self.cfg.trainer.collective_timeout_s, engine)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """Ungraded completions (the Sampler interface), from the sampler started on first use."""
        if self._sampler is None:
            self._sampler = self._start()
        elif hasattr(self._sampler, "wake_up"):
            self._sampler.wake_up()  # a no-op unless paused asleep
        if self._unprobed:  # new weights in the engine: checked on the prompts it is about to sample
            self._probe(prompts[:PROBES])
        return self._sampler.generate(prompts, params)

    def start_on_every_rank(self) -> None:
        """Every rank of the run calls this at once before sampling alone (online RL's ranks each draw their own
        questions): with sampler=vllm on several ranks each starts its own engine now, together; else nothing."""
        self._start_on_every_rank(self.ranks(together=True))

    def _start_on_every_rank(self, ranks: Ranks) -> None:
        """With sampler=vllm and several `ranks`: each rank its own engine, started by every rank at once (vLLM
        builds its groups over the run's); an engine this process started alone before is replaced."""
        if ranks.world == 1 or self.cfg.sampler.name != "vllm":
            return
        if self._given or getattr(self._sampler, "per_rank", False):
            return
        if self._sampler is not None:
            self._sampler.close()
        log.info("rank %d of %d starts its own vLLM engine", ranks.rank, ranks.world)
        self._sampler = self._start(ranks)

    def _start(self, ranks: Ranks = ALONE) -> Sampler:
        """The one place a sampler is built for a set of weights; `ranks`: the ranks starting their vLLM engines
        together (each its own), else this process's."""
        s = self.cfg.sampler
        if s.name == "openai":
            return make_sampler(s, self.tokenizer)
        if s.name == "hf":
            if self.model is None:
                return make_sampler(s, self.tokenizer, model_dir=self.folder)
            home = next(self.model.parameters()).device
            if torch.cuda.is_available() and home.type == "cpu":
                # A finished stage's weights, moved to the CPU by the strategy's teardown: generated with on the
                # GPU, and put back on close, so that a closed Policy holds no GPU memory through them.
                self.model.to("cuda")
                self._moved_from = home
            return make_sampler(s, self.tokenizer, model=self.model)
        folder = self.folder
        if folder is None:  # an engine starts from a folder: the one trip through disk, saved by one rank
            from mathlit.models.build import save_hf

            folder = self.engine_dir
            if ranks.rank == 0:
                plain = self.model.get_base_model() if is_lora(self.model) else self.model
                save_hf(plain, self.tokenizer, folder, state_dict=merged_state_dict(self.model))
            ranks.wait()
        engine = make_sampler(s, self.tokenizer, model_dir=folder, seed=self.cfg.seed, per_rank=ranks.world > 1)
        engine.version = self.version
        self._unprobed = self.folder is None  # an engine started from a copy of the weights in memory
        return engine

    def load(self, model: PreTrainedModel | None, version: int | str, folder: str | Path | None = None) -> None:
        """New weights trained in memory (named `version`, saved in `folder` if they are): the next sample is
        theirs. A running vLLM engine takes them in memory and is probed before it samples; `hf` generates
        with the new model (the same model object updated in place needs nothing). No `model`: the weights are
        only in `folder` (a rank without a whole copy of sharded weights), which a vLLM engine reads itself."""
        if model is self.model and version == self.version and folder == self.folder:
            return  # these very weights already (a second draw of the same step, say)
        replaced = model is not self.model
        if replaced:
            self._put_model_back()
        self.model, self.version = model, version
        self.folder = Path(folder) if folder is not None else None
        self._digest = None
        if self._sampler is None:
            return
        if self.cfg.sampler.name == "vllm":
            self._sampler.wake_up()
            if model is None:  # nothing in memory to probe against: the folder is the weights
                self._sampler.load_folder(self.folder, version)
                self._unprobed = False
                return
            # LoRA: the engine holds the base with the adapters merged (computed, the trained model untouched)
            self._sampler.load_weights(merged_state_dict(model), version, self.cfg.rft.sync_timeout_s)
            self._unprobed = True
        elif self.cfg.sampler.name == "hf" and replaced and not self._given:  # rebuilt over the new model
            self._sampler.close()
            self._sampler = None

    def _probe(self, prompts: list[str]) -> None:
        from mathlit.sampling.sync import check_in_sync

        gap = check_in_sync(self._sampler, self.model, self.tokenizer, prompts, self.cfg.rft.probe_tolerance)
        log.info("vLLM engine holds weights version %s (probe log-prob gap %.2e)", self.version, gap)
        self._unprobed = False

    def pause(self) -> None:
        """Between two uses with training in between: a vLLM engine that can sleep sleeps (GPU); one holding
        GPU memory otherwise is closed and rebuilt on the next sample; on CPU the sampler stays as it is."""
        if self._sampler is None:
            return
        if getattr(self._sampler, "can_sleep", False):
            self._sampler.sleep()
        elif torch.cuda.is_available():
            self.close()

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None
        self._put_model_back()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _put_model_back(self) -> None:
        """The model back where it was when this Policy moved it to the GPU (a model it found there stays)."""
        if self._moved_from is not None and self.model is not None:
            self.model.to(self._moved_from)
        self._moved_from = None

    def __repr__(self) -> str:
        held = f"folder={self.folder}" if self.folder is not None else f"{self.cfg.model.name} in memory"
        return f"Policy({held}, version={self.version}, sampler={self.cfg.sampler.name})"
