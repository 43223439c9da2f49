"""Synthetic training questions (Xwin-Math, Li et al. 2024), labelled by majority vote and decontaminated.

    python -m mathlit task=synth model.path=TEACHER/hf data=arith              # a local model, sampler=hf or vllm
    python -m mathlit task=synth model=llama2_7b model.path=/models/Llama-2-7b-hf data=gsm8k sampler=vllm
    python -m mathlit experiment=xwin_synth_gsm8k sampler.base_url=http://HOST:8000/v1   # an OpenAI-compatible server
    python -m mathlit task=sft data.augment_paths=[OUT/synthetic.jsonl] data.synthetic_max=1000   # train on it

1. seeds: the first synth.seeds training questions;
2. create synth.per_seed new questions from each (prompts in conf/synth_prompts/), verify each (solve and revise);
3. drop unparseable replies, duplicates of training or other new questions, too long and contaminated questions;
4. answer each synth.answers times; the majority answer (share >= synth.min_majority) is the label, and the
   agreeing solutions that pass RFT's filters are the rows.
Outputs in <run_dir>: synthetic.jsonl, rejected.jsonl, synth_report.json, funnel.png, and the replies of each
call in create/, verify/, answer/ (a rerun in the same folder resumes from them).
"""

from pathlib import Path

from omegaconf import DictConfig

from mathlit.data.splits import load_splits
from mathlit.datagen.synth import SynthGenerator, SynthResult, decontamination_questions, generator_policy
from mathlit.models.build import check_model_choice, load_tokenizer
from mathlit.sampling.ranks import join_launched_ranks
from mathlit.tasks import Report


def check(cfg: DictConfig) -> None:
    """Nothing trains: any strategy will do, and a server (sampler=openai) may write the data."""
    check_model_choice(cfg.model)


def train(cfg: DictConfig) -> SynthResult:
    """Nothing is trained: the generator writes the data. The processes torchrun or srun started sample each call
    together, each its share; global rank 0 writes the files."""
    join_launched_ranks(cfg.trainer.collective_timeout_s)
    tokenizer = load_tokenizer(cfg.model)
    splits = load_splits(cfg.data)
    seeds = splits.train[: cfg.synth.seeds]
    known = [e.question for e in splits.train + splits.val]
    policy = generator_policy(cfg, tokenizer)
    result = SynthGenerator(cfg, tokenizer, policy).run(
        seeds, known, decontamination_questions(cfg, splits.test), Path(cfg.run_dir)
    )
    policy.close()
    return result


def report(cfg: DictConfig, result: SynthResult) -> Report:
    r = result.report
    lines = [f"  {step:<22}{count:>8}" for step, count in r["funnel"]]
    summary = f"{r['rows']} rows for {r['questions']} new questions from {r['seeds']} seeds\n" + "\n".join(lines)
    # The headline's sampling block is the answer call's: N solutions per new question at its temperature.
    figures = {"sampling": {"n": cfg.synth.answers, "temperature": cfg.synth.answer_temperature}}
    return Report(r, summary, r["rows"], figures | {"data": {"synthetic_rows": r["rows"]}})
