"""Verifier training (Liu et al. 2023): an LM scores how likely a candidate solution is correct.

Score z (a logit): with head=token, the LM's own next-token logits after the evaluation prompt,
z = logit(yes_word) - logit(no_word), so S = sigmoid(z) = p(correct) / (p(correct) + p(incorrect)) and the
model stays a plain LM that can also generate; with head=scalar, a linear head on the last hidden state.
Objectives (where z is trained): last_token, one z at the end of the evaluation prompt (the paper's);
token_level, z at every solution token too, each toward the outcome (Cobbe et al. 2021: a value per token
overfits later than one at the end); process, z per token toward its step's label (data/verifier.py). A
solution's score is then the last, mean or min of its token scores (verifier.token_score); generative (GenRM,
Zhang et al. 2024), an LM loss on a check of the solution then the verdict word (data/rationales.py), and
S = sigmoid(z) at the verdict position after a check the verifier writes itself, averaged over
verifier.rationales checks (`Scorer`).
Losses: pointwise binary cross-entropy; pairwise Bradley-Terry -log sigmoid(z+ - z-) or the paper's
margin max(0, log S(bad) - log S(good) + margin). An optional generation loss on correct solutions
(verifier.lm_weight) keeps generation alive during a multitask verifier stage. Losses are exact means
over an optimizer step: items over global_batch_size, LM tokens over the step's target tokens.
"""

import json
import tempfile
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from mathlit.config import ModelConfig, OptimConfig, VerifierConfig, yaml_values
from mathlit.data.batching import pad_batch
from mathlit.data.example import Example
from mathlit.data.rationales import check_prompt, check_template_parts, split_verdict, verdict_ids
from mathlit.data.tokenize import IGNORE, encode_prompts
from mathlit.data.verifier import format_verifier_prompt, value_targets
from mathlit.errors import ConfigError
from mathlit.io import atomic_write_bytes, write_json
from mathlit.metrics.verifier import accuracy, auroc, best_of_n
from mathlit.models.build import build_model
from mathlit.models.shard import fully_shard_decoder, reads_weights
from mathlit.modules.generator import RNGStateMixin, response_loss_sum
from mathlit.modules.optim import configure_optimizer, total_steps
from mathlit.sampling.policy import Policy


def _gather(values: list) -> list:
    """Every rank's values (validation shards may differ in length by one)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return values
    parts: list = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, values)
    return [v for part in parts for v in part]


def word_token(tokenizer: PreTrainedTokenizerBase, word: str) -> int:
    """The first token of `word` as it follows the evaluation prompt."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ConfigError(f"verifier word {word!r} encodes to no token")
    return ids[0]


class VerifierModule(RNGStateMixin, L.LightningModule):
    def __init__(
        self,
        model_cfg: ModelConfig,
        optim_cfg: OptimConfig,
        cfg: VerifierConfig,
        tokenizer: PreTrainedTokenizerBase,
        *,
        global_batch_size: int,
        model: PreTrainedModel | None = None,
    ):
        super().__init__()
        self.model_cfg, self.optim_cfg, self.cfg, self.tokenizer = model_cfg, optim_cfg, cfg, tokenizer
        self.global_batch_size = global_batch_size
        self.model = model
        self.head: nn.Linear | None = None
        self.yes, self.no = word_token(tokenizer, cfg.yes_word), word_token(tokenizer, cfg.no_word)
        if self.yes == self.no:
            raise ConfigError(f"verifier.yes_word and no_word start with the same token ({self.yes})")
        if cfg.objective != "last_token" and cfg.loss != "pointwise":
            raise ConfigError(f"verifier.objective={cfg.objective} trains pointwise: set verifier=pointwise")
        if cfg.objective == "generative" and cfg.head != "token":
            raise ConfigError("verifier.objective=generative reads the LM's own verdict words: set verifier.head=token")
        self.dropout = nn.Dropout(cfg.dropout)
        self._val: dict[str, list] = {"qid": [], "score": [], "label": []}

    def configure_model(self) -> None:
        if self.model is None:
            self.model = build_model(self.model_cfg, self.tokenizer, empty=not reads_weights(self))
        for module in self.model.modules():  # HF attention layers read their dropout rate at every call
            if isinstance(getattr(module, "attention_dropout", None), float):
                module.attention_dropout = self.cfg.dropout
        fully_shard_decoder(self.model, self.device_mesh)
        if self.cfg.head == "scalar" and self.head is None:
            self.head = nn.Linear(self.model.config.hidden_size, 1, dtype=self.model.dtype)

    def token_scores(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """z at every position, (batch, length)."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=self.head is not None)
        if self.head is not None:
            return self.head(self.dropout(out.hidden_states[-1])).squeeze(-1).float()
        logits = out.logits.float()
        return logits[..., self.yes] - logits[..., self.no]

    def score(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z per sequence: at its last real token (sequences are right-padded), or the mean or min over the
        positions that `targets` labels (the solution's tokens and the last one)."""
        z = self.token_scores(input_ids, attention_mask)
        if self.cfg.token_score == "last" or targets is None:
            last = attention_mask.sum(dim=1) - 1
            return z[torch.arange(z.size(0), device=z.device), last]
        scored = targets != IGNORE
        if self.cfg.token_score == "mean":
            return (z * scored).sum(dim=1) / scored.sum(dim=1).clamp(min=1)
        return z.masked_fill(~scored, float("inf")).amin(dim=1)

    def item_losses(self, batch: dict) -> torch.Tensor:
        if self.cfg.objective != "last_token":
            z = self.token_scores(batch["input_ids"], batch["attention_mask"])
            targets = batch["value_targets"]
            scored = targets != IGNORE
            losses = F.binary_cross_entropy_with_logits(z, targets.clamp(min=0).float(), reduction="none")
            return (losses * scored).sum(dim=1) / scored.sum(dim=1).clamp(min=1)  # each candidate weighs the same
        z = self.score(batch["input_ids"], batch["attention_mask"])
        if self.cfg.loss == "pointwise":
            return F.binary_cross_entropy_with_logits(z, batch["label"].float(), reduction="none")
        z_bad = self.score(batch["bad_input_ids"], batch["bad_attention_mask"])
        if self.cfg.pair_loss == "bradley_terry":
            return -F.logsigmoid(z - z_bad)
        return F.relu(F.logsigmoid(z_bad) - F.logsigmoid(z) + self.cfg.margin)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        scale = self.trainer.accumulate_grad_batches * self.trainer.world_size
        if self.cfg.objective == "generative":  # an LM on the check and the verdict: the step's token mean
            check_sum, check_tokens = response_loss_sum(
                self.model,
                {
                    "input_ids": batch["check_input_ids"],
                    "attention_mask": batch["check_attention_mask"],
                    "labels": batch["check_labels"],
                },
            )
            loss = check_sum * scale / batch["step_tokens"].clamp(min=1)
            self.log("train/verifier_loss", check_sum / check_tokens.clamp(min=1), prog_bar=True)
        else:
            items = self.item_losses(batch)
            loss = items.sum() * scale / self.global_batch_size
            self.log("train/verifier_loss", items.mean(), prog_bar=True)
        if self.cfg.lm_weight > 0:
            lm_sum, _ = response_loss_sum(
                self.model,
                {
                    "input_ids": batch["lm_input_ids"],
                    "attention_mask": batch["lm_attention_mask"],
                    "labels": batch["lm_labels"],
                },
            )
            loss = loss + self.cfg.lm_weight * lm_sum * scale / batch["step_tokens"].clamp(min=1)
            self.log("train/lm_loss", lm_sum / batch["step_tokens"].clamp(min=1) * scale)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        z = self.score(batch["input_ids"], batch["attention_mask"], batch.get("value_targets"))
        for key, values in (("qid", batch["qid"]), ("score", z), ("label", batch["label"])):
            self._val[key] += values.tolist()

    def on_validation_epoch_end(self) -> None:
        gathered = {k: _gather(v) for k, v in self._val.items()}
        labels = [bool(y) for y in gathered["label"]]
        metrics = {
            "val/accuracy": accuracy(gathered["score"], labels),
            "val/best_of_n": best_of_n(gathered["qid"], gathered["score"], labels),
        }
        area = auroc(gathered["score"], labels)
        metrics["val/auroc"] = float("nan") if area is None else area  # one class only: undefined, never "best"
        self.log_dict(metrics, prog_bar=True, rank_zero_only=True)
        self._val = {k: [] for k in self._val}

    def configure_optimizers(self) -> dict:
        modules = nn.ModuleList([self.model] + ([self.head] if self.head is not None else []))
        return configure_optimizer(modules, self.optim_cfg, total_steps(self.trainer))


def write_verifier_spec(
    folder: Path,
    *,
    head: str,
    objective: str,
    token_score: str,
    prompt_template: str,
    yes_word: str,
    no_word: str,
    rationale: str,
    rationale_style: str,
) -> None:
    """verifier.json: how a `Scorer` reads the folder, as its training scored it (objective=generative: it
    writes a check before its verdict unless rationale=none)."""
    write_json(
        folder / "verifier.json",
        {
            "head": head,
            "objective": objective,
            "token_score": token_score,
            "prompt_template": prompt_template,
            "yes_word": yes_word,
            "no_word": no_word,
            "rationale": rationale,
            "rationale_style": rationale_style,
        },
    )


def save_verifier(module: VerifierModule, hf_dir: Path) -> Path:
    """Next to the exported HF folder: verifier.json (how to score) and the scalar head, if any."""
    c = module.cfg
    write_verifier_spec(
        hf_dir,
        head=c.head,
        objective=c.objective,
        token_score=c.token_score,
        prompt_template=c.prompt_template,
        yes_word=c.yes_word,
        no_word=c.no_word,
        rationale=c.rationale,
        rationale_style=c.rationale_style,
    )
    if module.head is not None:
        head = {k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()}
        atomic_write_bytes(hf_dir / "score_head.safetensors", safetensors_bytes(head))
    return hf_dir


class Scorer:
    """A saved verifier (or any generator, head=token) scoring solutions: S = p(correct) in [0, 1].

    A generative verifier (verifier.json's objective) first writes verifier.rationales checks of each distinct
    solution through a Policy on its own weights (the run's sampler; `cfg`: the run's config, which it needs
    for that), stored as resumable shards in `out_dir` when given; its score is the mean of its verdict's
    p(yes) / (p(yes) + p(no)) after each check."""

    def __init__(
        self, folder: str | Path, batch_size: int = 32, device: str | None = None, cfg: DictConfig | None = None
    ):
        folder = Path(folder)
        spec = json.loads((folder / "verifier.json").read_text()) if (folder / "verifier.json").exists() else {}
        saved = {k: v for k, v in spec.items() if k in VerifierConfig.__dataclass_fields__}
        base = cfg.verifier if cfg is not None else yaml_values(VerifierConfig, "verifier/pointwise.yaml")
        v = OmegaConf.merge(base, saved)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
        self.module = VerifierModule(
            ModelConfig(name="verifier", path=str(folder)),
            OptimConfig(),
            v,
            tokenizer,
            global_batch_size=1,
            model=model,
        )
        self.module.configure_model()
        if self.module.head is not None:
            self.module.head.load_state_dict(load_file(folder / "score_head.safetensors"))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.module.to(self.device).eval()
        self.template, self.tokenizer, self.batch_size = v.prompt_template, tokenizer, batch_size
        self.folder, self.run_cfg, self._policy = folder, cfg, None

    @torch.no_grad()
    def score(self, pairs: list[tuple[str, str]], out_dir: str | Path | None = None) -> list[float]:
        """p(correct) for each (question, solution); `out_dir`: where a generative verifier keeps its checks."""
        cfg = self.module.cfg
        if cfg.objective == "generative":
            return self._generative(pairs, out_dir)
        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            if cfg.objective == "last_token" or cfg.token_score == "last":
                texts = [format_verifier_prompt(self.template, q, s) for q, s in chunk]
                z = self._last_token(encode_prompts(self.tokenizer, texts))
            else:
                z = self.module.score(**self._with_targets(chunk))
            scores += torch.sigmoid(z).tolist()
        return scores

    def _last_token(self, ids: list[list[int]]) -> torch.Tensor:
        """z at the last token of each sequence."""
        enc = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt", padding_side="right").to(self.device)
        return self.module.score(enc["input_ids"], enc["attention_mask"])

    def _generative(self, pairs: list[tuple[str, str]], out_dir: str | Path | None) -> list[float]:
        distinct = list(dict.fromkeys(pairs))  # sampled solutions repeat: each is checked once
        checks = self.checks(distinct, out_dir)
        rows = [
            (i, verdict_ids(self.tokenizer, self.template, q, s, r))
            for i, (q, s) in enumerate(distinct)
            for r in checks[i]
        ]
        z: list[float] = []
        for start in range(0, len(rows), self.batch_size):
            z += torch.sigmoid(self._last_token([ids for _, ids in rows[start : start + self.batch_size]])).tolist()
        totals = [0.0] * len(distinct)
        for (i, _), p in zip(rows, z, strict=True):
            totals[i] += p / len(checks[i])
        index = {pair: i for i, pair in enumerate(distinct)}
        return [totals[index[pair]] for pair in pairs]

    def checks(self, pairs: list[tuple[str, str]], out_dir: str | Path | None = None) -> list[list[str]]:
        """The checks the verifier writes of each (question, solution), verifier.rationales each ([""]: none,
        with rationale=none)."""
        v = self.module.cfg
        if v.rationale == "none":
            return [[""] for _ in pairs]
        if self.run_cfg is None:
            raise ConfigError(f"{self.folder} is a generative verifier: it samples its checks with the run's sampler")
        if self._policy is None:
            self._policy = Policy(self.run_cfg, self.tokenizer, folder=self.folder, model=self.module.model)
        examples = [
            Example(f"check/{i}", check_prompt(self.template, q, s), "", "", "gsm8k") for i, (q, s) in enumerate(pairs)
        ]
        stem = check_template_parts(self.template)[1]
        with tempfile.TemporaryDirectory() as scratch:
            records = self._policy.sample(examples, out_dir or scratch, "rationales", template="{question}")
        checks: dict[str, list[str]] = {}
        for r in records:
            checks.setdefault(r["id"], []).append(split_verdict(r["completion"], stem, v.yes_word, v.no_word)[0])
        return [checks[e.id] for e in examples]

    def close(self) -> None:
        """Stop the sampler of a generative verifier's checks, if one started."""
        if self._policy is not None:
            self._policy.close()
            self._policy = None

    def _with_targets(self, chunk: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
        """The batch with the solution tokens marked (their labels are placeholders), for mean/min scores."""
        rows = [value_targets(self.tokenizer, self.template, q, s, True, "token_level") for q, s in chunk]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        batch = pad_batch([{"input_ids": ids, "value_targets": targets} for ids, targets in rows], pad)
        return {
            "input_ids": batch["input_ids"].to(self.device),
            "attention_mask": batch["attention_mask"].to(self.device),
            "targets": batch["value_targets"].to(self.device),
        }
