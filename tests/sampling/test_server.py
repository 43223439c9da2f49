"""sampler=openai against a local stub server: retries with backoff, bounded concurrency, one-line errors, the key."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mathlit.errors import SamplingError
from mathlit.sampling import make_sampler
from mathlit.sampling.base import SamplingParams
from tests.conftest import make_cfg

PARAMS = SamplingParams(n=2, temperature=1.0, max_new_tokens=8, stop=("\n\n",))
OK = {"choices": [{"index": i, "text": f"reply {i}\n\nmore", "finish_reason": "stop"} for i in range(2)]}


class Stub:
    """Answers each POST with the next scripted (status, body, delay, headers); the last one repeats."""

    def __init__(self, script):
        self.script, self.requests, self.in_flight, self.most_in_flight = list(script), [], 0, 0
        lock, stub = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status, reply, delay, headers = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                    stub.in_flight += 1
                    stub.most_in_flight = max(stub.most_in_flight, stub.in_flight)
                time.sleep(delay)
                with lock:
                    stub.in_flight -= 1
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def serve():
    stubs = []

    def start(*script):
        stubs.append(Stub([(*s, *(0.0, {})[len(s) - 2 :]) if len(s) < 4 else s for s in script]))
        return stubs[-1]

    yield start
    for stub in stubs:
        stub.server.shutdown()


def sampler(url, tokenizer, *args):
    return make_sampler(
        make_cfg("sampler=openai", f"sampler.base_url={url}", "sampler.served_model=m", *args).sampler, tokenizer
    )


def test_429_and_5xx_are_retried_and_the_key_comes_from_the_environment(serve, tokenizer, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret")
    stub = serve(
        (429, {"error": {"message": "slow down"}}, 0.0, {"retry-after-ms": "10"}),
        (503, "busy", 0.0, {"retry-after-ms": "10"}),
        (200, OK),
    )
    [completions] = sampler(stub.url, tokenizer, "sampler.api_key_env=MY_KEY").generate(["Q: 1+1?"], PARAMS)
    assert [c.text for c in completions] == ["reply 0", "reply 1"]  # cut at the stop string
    assert completions[0].finish_reason == "stop" and completions[0].num_tokens > 0
    assert len(stub.requests) == 3 and {r[0] for r in stub.requests} == {"/v1/completions"}
    path, headers, body = stub.requests[-1]
    assert headers["authorization"] == "Bearer sk-secret"
    assert body == {
        "model": "m",
        "prompt": "Q: 1+1?",
        "n": 2,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": 8,
        "stop": ["\n\n"],
    }


def test_backoff_without_retry_after_is_exponential(serve, tokenizer):
    stub = serve((500, "oops"), (500, "oops"), (200, OK))
    start = time.monotonic()
    sampler(stub.url, tokenizer, "sampler.max_retries=2").generate(["Q"], PARAMS)
    assert len(stub.requests) == 3 and time.monotonic() - start >= 0.75 * (0.5 + 1.0)  # 0.5 s, 1 s, less jitter


def test_retries_run_out_in_one_line_naming_the_url(serve, tokenizer):
    stub = serve((502, {"error": {"message": "bad gateway"}}, 0.0, {"retry-after-ms": "1"}))
    with pytest.raises(SamplingError, match=rf"^{stub.url}: HTTP 502 after 2 retries: .*bad gateway$"):
        sampler(stub.url, tokenizer, "sampler.max_retries=2").generate(["Q"], PARAMS)
    assert len(stub.requests) == 3


@pytest.mark.parametrize(
    "body",
    ["<html>not json</html>", {"unexpected": 1}, {"choices": [{"text": None}]}, {"choices": "x"}],
    ids=["html", "no choices", "null text", "wrong type"],
)
def test_garbage_is_one_line_naming_the_url(serve, tokenizer, body):
    stub = serve((200, body))
    with pytest.raises(SamplingError, match=rf"^{stub.url}: answered garbage") as e:
        sampler(stub.url, tokenizer).generate(["Q"], PARAMS)
    assert "\n" not in str(e.value)


def test_unreachable_and_slow_servers_are_one_line_naming_the_url(serve, tokenizer):
    with pytest.raises(
        SamplingError, match=r"^http://127.0.0.1:9/v1: unreachable after 0 retries \(APIConnectionError"
    ):
        sampler("http://127.0.0.1:9/v1", tokenizer, "sampler.max_retries=0").generate(["Q"], PARAMS)
    stub = serve((200, OK, 2.0, {}))
    with pytest.raises(SamplingError, match=rf"^{stub.url}: unreachable after 0 retries \(APITimeoutError"):
        sampler(stub.url, tokenizer, "sampler.max_retries=0", "sampler.timeout_s=0.2").generate(["Q"], PARAMS)


def test_concurrency_is_bounded_and_replies_keep_the_prompt_order(serve, tokenizer):
    stub = serve((200, OK, 0.1, {}))
    results = sampler(stub.url, tokenizer, "sampler.max_concurrency=2").generate([f"Q{i}" for i in range(6)], PARAMS)
    assert stub.most_in_flight == 2 and len(results) == 6
    assert [r[2]["prompt"] for r in stub.requests][:2] in (["Q0", "Q1"], ["Q1", "Q0"])


def test_the_chat_api_sends_the_prompt_as_one_user_message(serve, tokenizer):
    reply = {
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"} for i in range(2)
        ]
    }
    stub = serve((200, reply))
    [completions] = sampler(stub.url, tokenizer, "sampler.api=chat").generate(["Q"], PARAMS)
    assert [c.finish_reason for c in completions] == ["length", "length"]
    path, _, body = stub.requests[0]
    assert path == "/v1/chat/completions" and body["messages"] == [{"role": "user", "content": "Q"}]
    assert body["max_completion_tokens"] == 8


def test_a_refused_key_names_its_variable_never_the_key(serve, tokenizer, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret")
    stub = serve((401, {"error": {"message": "invalid key"}}))
    with pytest.raises(SamplingError, match=r": HTTP 401 \(is \$MY_KEY set\?\): .*invalid key$") as e:
        sampler(stub.url, tokenizer, "sampler.api_key_env=MY_KEY").generate(["Q"], PARAMS)
    assert "sk-secret" not in str(e.value) and len(stub.requests) == 1  # 401 is not retried
