"""Backends: registry, calibration backends, an OpenAI-compatible server, the local HF model."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cetd_lib.apps.app import App
from cetd_lib.reconstruction.backends import (
    BackendError,
    HFBackend,
    _closed_blocks,
    make_backend,
    register_backend,
    registered_backends,
)
from cetd_lib.reconstruction.config import BackendSpec
from cetd_lib.reconstruction.prompts import build_prompt

APP = App(
    "a",
    {"m.py": "def f():\n    return 1\n"},
    {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"},
    ("f() returns 1.",),
)
PROMPTS = [build_prompt(APP), build_prompt(APP, ["Another requirement."])]


def test_registry_knows_the_builtin_kinds_and_suggests_names():
    assert {"hf", "openai", "oracle", "null"} <= set(registered_backends())
    with pytest.raises(ValueError, match="did you mean 'oracle'"):
        make_backend(BackendSpec(name="x", kind="oracel"))


def test_register_a_new_backend():
    class Echo:
        def __init__(self, spec):
            self.name = spec.name

        def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
            return [[p.app_id] * n for p in prompts]

    register_backend("echo-test")(Echo)
    assert make_backend("echo-test").generate(PROMPTS, 2, 0.0, 8, 0) == [["a", "a"], ["a", "a"]]
    with pytest.raises(ValueError, match="already registered"):
        register_backend("echo-test")(Echo)


def test_oracle_and_null_shapes():
    oracle = make_backend("oracle").generate(PROMPTS, 3, 0.0, 16, 0)
    assert len(oracle) == 2 and all(len(s) == 3 for s in oracle)
    assert "def f():" in oracle[0][0] and 'title="m.py"' in oracle[0][0]
    assert make_backend("null").generate(PROMPTS, 2, 0.0, 16, 0) == [["", ""], ["", ""]]


def test_closed_block_counter():
    assert _closed_blocks("```python\nx\n```\ntext\n```py\ny\n```") == 2
    assert _closed_blocks("```python\nx = '```'\n") == 0
    assert _closed_blocks("````\n```\n````") == 1


# ---- openai: a local OpenAI-compatible server -------------------------------------------------


class FakeServer:
    """Serves /v1/chat/completions on 127.0.0.1; `script` lists status codes to return first."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    owner.requests.append(body)
                    owner.headers.append(dict(self.headers))
                    status = owner.script.pop(0) if owner.script else 200
                if self.path != "/v1/chat/completions":
                    status = 404
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "scripted"}')
                    return
                content = f"```python\n# seed {body['seed']}\ndef f():\n    return 1\n```"
                reply = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply.encode())

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def spec_for(server, **kwargs) -> BackendSpec:
    defaults = {
        "name": "api",
        "kind": "openai",
        "model": "m",
        "base_url": server.url,
        "backoff_s": 0.01,
        "max_retries": 2,
        "request_timeout_s": 5.0,
        "concurrency": 3,
    }
    return BackendSpec(**{**defaults, **kwargs})


def test_openai_generates_n_seeded_samples_per_prompt():
    with FakeServer() as server:
        out = make_backend(spec_for(server)).generate(PROMPTS, 2, 0.7, 64, seed=10)
    assert [[("seed 10" in s, "seed 11" in s) for s in row] for row in out] == [
        [(True, False), (False, True)]
    ] * 2
    assert len(server.requests) == 4
    first = server.requests[0]
    assert first["model"] == "m" and first["max_tokens"] == 64 and first["temperature"] == 0.7
    assert first["messages"][0]["role"] == "system"


def test_openai_retries_a_500_then_succeeds():
    with FakeServer(script=[500, 503]) as server:
        out = make_backend(spec_for(server, concurrency=1)).generate(PROMPTS[:1], 1, 0.0, 8, 0)
    assert "def f" in out[0][0]
    assert len(server.requests) == 3


def test_openai_gives_up_after_retries_and_does_not_retry_client_errors():
    with FakeServer(script=[500, 500, 500, 500]) as server:
        with pytest.raises(BackendError, match="after 3 attempts"):
            make_backend(spec_for(server, concurrency=1)).generate(PROMPTS[:1], 1, 0.0, 8, 0)
    with FakeServer(script=[401]) as server:
        with pytest.raises(BackendError, match="HTTP 401"):
            make_backend(spec_for(server, concurrency=1)).generate(PROMPTS[:1], 1, 0.0, 8, 0)
        assert len(server.requests) == 1


def test_openai_api_key_comes_from_the_named_environment_variable(monkeypatch):
    with FakeServer() as server:
        with pytest.raises(BackendError, match="CETD_TEST_KEY"):
            make_backend(spec_for(server, api_key_env="CETD_TEST_KEY"))
        monkeypatch.setenv("CETD_TEST_KEY", "sk-test")
        make_backend(spec_for(server, api_key_env="CETD_TEST_KEY")).generate(
            PROMPTS[:1], 1, 0.0, 8, 0
        )
    assert server.headers[0]["Authorization"] == "Bearer sk-test"


def test_openai_unreachable_server_is_a_backend_error():
    spec = BackendSpec(
        name="down",
        kind="openai",
        base_url="http://127.0.0.1:9/v1",
        max_retries=1,
        backoff_s=0.01,
        request_timeout_s=1.0,
    )
    with pytest.raises(BackendError, match="failed after 2 attempts"):
        make_backend(spec).generate(PROMPTS[:1], 1, 0.0, 8, 0)


# ---- hf: tiny random Llama with SmolLM2's tokenizer -------------------------------------------


@pytest.fixture(scope="module")
def tiny_hf():
    from cetd_lib.models import load_base

    model, tokenizer = load_base("tiny-random")
    return HFBackend(
        BackendSpec(name="tiny", kind="hf", model="tiny-random", batch_size=2),
        model=model,
        tokenizer=tokenizer,
    )


def test_hf_greedy_is_batched_and_deterministic(tiny_hf):
    three = [PROMPTS[0], PROMPTS[1], PROMPTS[0]]  # batch_size 2: [p0, p1], [p0]
    first = tiny_hf.generate(three, 2, 0.0, 8, seed=0)
    assert len(first) == 3 and all(len(s) == 2 and s[0] == s[1] for s in first)
    assert first[0] == first[2]  # left padding: same greedy text alone or in a padded batch
    assert tiny_hf.tokenizer.padding_side == "left"


def test_hf_sampling_is_seeded(tiny_hf):
    a = tiny_hf.generate(PROMPTS, 3, 1.0, 8, seed=7)
    b = tiny_hf.generate(PROMPTS, 3, 1.0, 8, seed=7)
    assert a == b and len(a) == 2 and all(len(s) == 3 for s in a)
    assert len({s for row in a for s in row}) > 1


def test_hf_chat_template_is_applied(tiny_hf):
    text = tiny_hf.render(PROMPTS[0])
    assert "f() returns 1." in text and text.rstrip().endswith("assistant")


@pytest.mark.parametrize("decode_loop", ["pruned", "transformers"])
def test_hf_stops_after_the_last_expected_code_block(tiny_hf, decode_loop):
    """A model that writes a closed block and then rambles is cut at the closing fence."""
    from types import SimpleNamespace

    import torch

    tokenizer = tiny_hf.tokenizer
    scripted = (
        tokenizer("```python\nx = 1\n```\nand then more words", add_special_tokens=False)[
            "input_ids"
        ]
        + [tokenizer.encode(" more", add_special_tokens=False)[0]] * 40
    )

    class Scripted(torch.nn.Module):
        """Greedy decoding of this 'model' replays `scripted`, token by token."""

        def __init__(self):
            super().__init__()
            self.config = tiny_hf.model.config
            self.generation_config = tiny_hf.model.generation_config

            self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the loop a device
            self.prompt_len = None

        def generate(self, input_ids, attention_mask, generation_config, stopping_criteria):
            out = input_ids
            for token in scripted:
                out = torch.cat([out, torch.full((out.shape[0], 1), token)], dim=1)
                if bool(stopping_criteria(out, None).all()):
                    break
            return out

        def forward(self, input_ids, attention_mask, past_key_values=None, **kwargs):
            """One step of the pruned loop: logits that pick the next scripted token."""
            if past_key_values is None:
                self.prompt_len = attention_mask.shape[1]
                past_key_values = SimpleNamespace(batch_select_indices=lambda index: None)
            step = attention_mask.shape[1] - self.prompt_len
            logits = torch.zeros(input_ids.shape[0], 1, len(tokenizer))
            logits[:, :, scripted[step]] = 1.0
            return SimpleNamespace(logits=logits, past_key_values=past_key_values)

    spec = BackendSpec(name="s", kind="hf", decode_loop=decode_loop, dtype="float32")
    backend = HFBackend(spec, model=Scripted(), tokenizer=tokenizer)
    text = backend.generate(PROMPTS[:1], 1, 0.0, 64, 0)[0][0]
    assert text.rstrip().endswith("```") and "more words" not in text


# ---- openai against a real OpenAI-compatible server: `transformers serve` on loopback ----------


@pytest.fixture(scope="module")
def served_tiny(tmp_path_factory):
    """`transformers serve` (transformers' own OpenAI-compatible server) on the tiny random
    Llama, on a free loopback port; stopped, with its whole process group, after the module."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from cetd_lib.models import load_base

    cli = Path(sys.executable).with_name("transformers")
    if not cli.exists():
        pytest.skip("the transformers CLI is not installed in this environment")
    model_dir = tmp_path_factory.mktemp("served") / "tiny"
    model, tokenizer = load_base("tiny-random")
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (model_dir.parent / "server.log").open("w")
    server = subprocess.Popen(
        [str(cli), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
        + ["--device", "cpu"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            os.killpg(server.pid, signal.SIGKILL)
            output = (model_dir.parent / "server.log").read_text()[-2000:]
            pytest.fail(f"transformers serve did not come up: {output}")
        time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/v1", str(model_dir)
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    log.close()
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # nothing of the server outlives the module
        os.killpg(server.pid, 0)


def test_openai_backend_against_a_real_local_server(served_tiny):
    base_url, model = served_tiny
    spec = BackendSpec(name="served", kind="openai", model=model, base_url=base_url, concurrency=2)
    backend = make_backend(spec)
    greedy = backend.generate(PROMPTS, 2, 0.0, 8, seed=0)
    assert len(greedy) == 2 and all(len(s) == 2 for s in greedy)
    assert all(isinstance(text, str) and text for row in greedy for text in row)
    assert greedy[0][0] == greedy[0][1]  # greedy: the server is deterministic


def test_openai_backend_reads_its_server_from_the_named_variable(served_tiny, monkeypatch):
    base_url, model = served_tiny
    monkeypatch.setenv("CETD_TEST_SERVER", base_url)
    spec = BackendSpec(name="s", kind="openai", model=model, base_url_env="CETD_TEST_SERVER")
    assert len(make_backend(spec).generate(PROMPTS[:1], 1, 0.0, 4, seed=0)[0]) == 1
    monkeypatch.delenv("CETD_TEST_SERVER")
    with pytest.raises(BackendError, match="CETD_TEST_SERVER"):
        make_backend(spec)
