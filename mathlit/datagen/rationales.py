"""A teacher's checks of a generative verifier's candidates (verifier.rationale=teacher), for data without
<<a op b = c>> annotations (MATH): GenRM's recipe, a stronger model writes a check and a verdict of each
candidate, and training keeps a check whose verdict is the candidate's label (data.verifier.attach_rationales).

The teacher is a model folder (verifier.teacher_path, sampled with sampler.*) or a server (no teacher_path,
verifier.teacher_sampler={name: openai, base_url: ..., served_model: ...}); either way a Policy samples it, so
its checks lie in out_dir as resumable shards whose manifest names the teacher, and out_dir/checks.jsonl lists
each candidate's checks with their verdicts.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from mathlit.data.example import Example
from mathlit.data.rationales import check_template_parts, split_verdict
from mathlit.data.splits import Splits
from mathlit.data.tokenize import fill
from mathlit.data.verifier import TeacherChecks, make_candidates, verifier_prompt_template
from mathlit.errors import ConfigError
from mathlit.io import write_jsonl
from mathlit.sampling.policy import Policy


def check_rationales(cfg: DictConfig) -> None:
    """Before any sampling: a generative verifier's settings hold together (template, head, loss, teacher)."""
    v = cfg.verifier
    if v.objective != "generative":
        return
    check_template_parts(v.generative_template)
    if v.head != "token" or v.loss != "pointwise":
        raise ConfigError(
            "verifier.objective=generative trains the LM's verdict words: set verifier.head=token, verifier=pointwise"
        )
    if v.rationale == "teacher" and not v.teacher_path and v.teacher_sampler.get("name") != "openai":
        raise ConfigError(
            "verifier.rationale=teacher needs a teacher: verifier.teacher_path (a model folder) or a server, "
            "'+verifier.teacher_sampler={name:openai,base_url:URL,served_model:NAME}'"
        )


def teacher_policy(cfg: DictConfig, tokenizer: PreTrainedTokenizerBase) -> Policy:
    """The teacher's Policy: verifier.teacher_path with sampler.* (and verifier.teacher_sampler's overrides), or
    the server that verifier.teacher_sampler names (counting tokens with `tokenizer`)."""
    v = cfg.verifier
    teacher_cfg = OmegaConf.merge(cfg, {"sampler": v.teacher_sampler})
    if v.teacher_path:
        return Policy(teacher_cfg, AutoTokenizer.from_pretrained(v.teacher_path), folder=v.teacher_path)
    check_rationales(cfg)  # a teacher is named
    return Policy(teacher_cfg, tokenizer)


def teacher_checks(
    cfg: DictConfig,
    tokenizer: PreTrainedTokenizerBase,
    train_records: list[dict],
    val_records: list[dict],
    splits: Splits,
    out_dir: str | Path,
) -> TeacherChecks | None:
    """verifier.teacher_samples checks by the teacher of each candidate the verifier stage will train or
    validate on (make_candidates picks the same ones again), as {(question, solution): [(check, verdict)]};
    None unless objective=generative with rationale=teacher."""
    v = cfg.verifier
    if v.objective != "generative" or v.rationale != "teacher":
        return None
    chosen = make_candidates(
        train_records, splits.train, balance=v.balance, include_reference=v.include_reference, seed=cfg.seed
    )
    chosen += make_candidates(val_records, splits.val, balance=False, include_reference=False, seed=cfg.seed)
    pairs = list(dict.fromkeys((c.question, c.solution) for c in chosen))
    examples = [
        Example(f"teacher/{i}", fill(v.teacher_template, {"question": q, "solution": s.strip()}), "", "", "gsm8k")
        for i, (q, s) in enumerate(pairs)
    ]
    policy = teacher_policy(cfg, tokenizer)
    records = policy.sample(examples, out_dir, "teacher", template="{question}", together=True)
    policy.close()
    stem = check_template_parts(verifier_prompt_template(cfg))[1]
    found: dict[str, list[tuple[str, bool | None]]] = {}
    for r in records:
        found.setdefault(r["id"], []).append(split_verdict(r["completion"], stem, v.yes_word, v.no_word))
    checks = {pair: found[e.id] for pair, e in zip(pairs, examples, strict=True)}
    rows = [
        {"question": q, "solution": s, "checks": [{"check": c, "verdict": verdict} for c, verdict in found_checks]}
        for (q, s), found_checks in checks.items()
    ]
    write_jsonl(Path(out_dir) / "checks.jsonl", rows)
    return checks
