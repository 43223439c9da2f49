"""The run's prompt template: \\n typed on the command line, the chat format, and the round trip through hf/."""

import json

import pytest

from mathlit.data.prompts import chat_template
from mathlit.errors import ConfigError
from mathlit.startup import settle_prompt
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

CHAT = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_a_typed_backslash_n_becomes_a_newline():
    cfg = make_cfg("data.prompt_template='Q: {question}\\nA:'")
    assert "\\n" in cfg.data.prompt_template  # what Hydra hands over
    settle_prompt(cfg)
    assert cfg.data.prompt_template == "Q: {question}\nA:"


def test_chat_format_renders_the_template_once_with_the_question_in_place(tokenizer, monkeypatch):
    monkeypatch.setattr(tokenizer, "chat_template", CHAT)
    text = chat_template(tokenizer, "Solve: {question}", "Be brief.")
    assert text == "<|system|>Be brief.</s><|user|>Solve: {question}</s><|assistant|>"  # BOS left to tokenising
    monkeypatch.setattr(tokenizer, "chat_template", None)
    with pytest.raises(ConfigError, match="no chat template"):
        chat_template(tokenizer, "{question}", "")


def test_the_prompt_trained_with_is_saved_in_hf_and_used_by_eval(tmp_path):
    trained = "Problem: {question}\nWorked solution:\n"
    run_task(
        make_cfg(
            "debug=fast",
            *MICRO_MODEL,
            "trainer.max_steps=1",
            "data.max_test_examples=2",
            f"data.prompt_template='{trained}'",
            run_dir=tmp_path / "sft",
        )
    )
    assert json.loads((tmp_path / "sft" / "hf" / "mathlit.json").read_text())["prompt_template"] == trained

    base = ["task=eval", "debug=fast", f"model.path={tmp_path}/sft/hf", "eval.n=0", "eval.max_examples=2"]
    run_task(make_cfg(*base, "data.prompt_template='Other: {question}'", run_dir=tmp_path / "eval"))
    record = json.loads((tmp_path / "eval" / "greedy" / "samples.jsonl").read_text().splitlines()[0])
    assert record["prompt"].startswith("Problem: ") and record["prompt"].endswith("\nWorked solution:\n")

    run_task(
        make_cfg(
            *base, "data.prompt_from_model=false", "data.prompt_template='Other: {question}'", run_dir=tmp_path / "own"
        )
    )
    record = json.loads((tmp_path / "own" / "greedy" / "samples.jsonl").read_text().splitlines()[0])
    assert record["prompt"].startswith("Other: ")
