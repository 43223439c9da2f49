"""verifier.rationale=teacher against a stub OpenAI-compatible server: the teacher checks each candidate the
verifier trains or validates on, in resumable shards naming the server; training keeps a check whose verdict is
the label; and task=verifier trains a generative verifier on those checks end to end."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mathlit.data.example import Example
from mathlit.data.splits import Splits
from mathlit.data.verifier import attach_rationales, make_candidates
from mathlit.datagen.rationales import check_rationales, teacher_checks
from mathlit.errors import ConfigError
from mathlit.sampling.records import stored_source
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, make_cfg

WRONG = " 2+3=6 wrong, it is 5.\nThe above candidate solution is incorrect"
RIGHT = " 2+3=5 correct.\nThe above candidate solution is correct"


@pytest.fixture
def teacher():
    """A server whose teacher writes two checks of every prompt: one saying wrong, one saying right."""
    prompts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompts.append(body)
            texts = [WRONG, RIGHT, "no verdict"][: body["n"]]
            reply = {"choices": [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(texts)]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", prompts
    server.shutdown()


def teacher_cfg(url: str, *more: str, run_dir=None):
    server = f"+verifier.teacher_sampler={{name:openai,base_url:'{url}',served_model:teacher}}"
    generative = ["verifier.objective=generative", "verifier.rationale=teacher", "verifier.teacher_samples=2"]
    return make_cfg(*generative, server, *more, run_dir=run_dir)


QUESTION = Example("q/0", "What is 2+3?", "2+3=<<2+3=5>>5\n#### 5", "5", "gsm8k")
HELD_OUT = Example("q/1", "What is 1+1?", "1+1=<<1+1=2>>2\n#### 2", "2", "gsm8k")
RECORDS = [
    {"question": QUESTION.question, "completion": "So 2+3=<<2+3=5>>5\n#### 5", "correct": True},
    {"question": QUESTION.question, "completion": "So 2+3=<<2+3=6>>6\n#### 6", "correct": False},
]
VAL = [{"question": HELD_OUT.question, "completion": "1+1=<<1+1=3>>3\n#### 3", "correct": False}]


def test_the_teacher_checks_each_candidate_once_and_training_keeps_the_verdicts_that_match(
    tmp_path, tokenizer, teacher
):
    url, requests = teacher
    cfg = teacher_cfg(url)
    splits = Splits([QUESTION], [HELD_OUT], [], {})
    checks = teacher_checks(cfg, tokenizer, RECORDS, VAL, splits, tmp_path / "teacher")
    # Balanced: one correct (the reference or the sample) and the wrong sample; the validation sample.
    assert len(checks) == len(requests) == 3 and all(r["n"] == 2 for r in requests)
    assert all(r["prompt"].startswith("Check the candidate solution") and "Check:" in r["prompt"] for r in requests)
    assert all(found == [(WRONG.split("\n")[0], False), (RIGHT.split("\n")[0], True)] for found in checks.values())
    assert stored_source(tmp_path / "teacher") == f"server:{url}:teacher:completions"  # provenance
    listed = [json.loads(line) for line in (tmp_path / "teacher" / "checks.jsonl").open()]
    assert len(listed) == 3 and listed[0]["checks"][1] == {"check": RIGHT.split("\n")[0], "verdict": True}

    train = make_candidates(RECORDS, splits.train, seed=cfg.seed)
    kept = attach_rationales(train, "teacher", checks)
    assert {(c.correct, c.rationale) for c in kept} == {(True, RIGHT.split("\n")[0]), (False, WRONG.split("\n")[0])}

    again = teacher_checks(cfg, tokenizer, RECORDS, VAL, splits, tmp_path / "teacher")
    assert again == checks and len(requests) == 3  # resumed from its shards: nothing asked again


def test_a_teacher_is_a_model_folder_or_a_server(tmp_path, tokenizer):
    cfg = make_cfg("verifier.objective=generative", "verifier.rationale=teacher")
    with pytest.raises(ConfigError, match="verifier.teacher_path"):
        teacher_checks(cfg, tokenizer, RECORDS, VAL, Splits([QUESTION], [HELD_OUT], [], {}), tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["verifier.rationale=teacher"], "needs a teacher"),
        (["verifier.head=scalar"], "verifier.head=token"),
        (["verifier=pairwise"], "verifier=pointwise"),
        (["verifier.generative_template='{question} {solution}'"], "verifier.generative_template"),
    ],
)
def test_task_verifier_refuses_a_generative_setting_that_cannot_work_before_sampling(overrides, message):
    cfg = make_cfg("task=verifier", "verifier.objective=generative", *overrides)
    with pytest.raises(ConfigError, match=message):
        check_rationales(cfg)


def test_task_verifier_trains_a_generative_verifier_on_a_teachers_checks(tmp_path, teacher):
    url, requests = teacher
    small = [
        "task=verifier",
        "debug=fast",
        *MICRO_MODEL,
        "verifier.max_steps=2",
        "verifier.rationale_max_new_tokens=16",
        "eval.n=2",
    ]
    run_task(teacher_cfg(url, *small, run_dir=tmp_path))
    listed = [json.loads(line) for line in (tmp_path / "teacher" / "checks.jsonl").open()]
    assert len(listed) == len(requests) > 16  # every training and validation candidate, checked once
    spec = json.loads((tmp_path / "verifier" / "hf" / "verifier.json").read_text())
    assert spec["objective"] == "generative" and spec["rationale"] == "teacher"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["rerank"]["n"] == 2 and (tmp_path / "test" / "checks" / "samples.jsonl").exists()
