"""The `llamacpp` backend: a private llama-server that starts and stops with the backend.

The client logic (order, samples, seeds, fence stop) is checked against a scripted stand-in for
the server; the lifecycle (start, generate, stop, no orphan after SIGKILL) against the real
binary that `make install` builds, serving the embedded SmolLM2 GGUF.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cetd_lib.reconstruction import llama_server
from cetd_lib.reconstruction.backends import HFBackend, LlamaCppBackend, make_backend
from cetd_lib.reconstruction.config import BackendSpec
from cetd_lib.reconstruction.prompts import Prompt, build_messages


def prompt(app_id: str, modules: tuple[str, ...] = ("m.py",)) -> Prompt:
    return Prompt(app_id, build_messages([f"Return {app_id}."], modules), modules)


class ScriptedServer:
    """Stands in for LlamaServer: answers each request after a random delay (so requests finish
    out of order), streaming a reply that keeps going after its code block."""

    def __init__(self, *args, **kwargs) -> None:
        self.bodies: list[dict] = []
        self.process = subprocess.Popen(["sleep", "60"])

    def stream_completion(self, body, *, timeout, stop_when):
        self.bodies.append(body)
        time.sleep(random.uniform(0, 0.05))
        marker = f"prompt {hash(tuple(body['prompt']))} seed {body['seed']}"
        pieces = ["```", "python\n", f"# {marker}\n", "```", "\nMore text", " that must", " go"]
        text = ""
        for piece in pieces:
            text += piece
            if "`" in piece and stop_when(text):
                break
        return text

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def scripted(monkeypatch, tmp_path, tiny_base):
    binary = tmp_path / "llama-server"
    binary.write_text("")
    monkeypatch.setattr(llama_server, "require_binary", lambda: binary)
    monkeypatch.setattr(llama_server, "gguf_for", lambda model: tmp_path / "m.gguf")
    monkeypatch.setattr(llama_server, "LlamaServer", ScriptedServer)
    _, tokenizer = tiny_base
    spec = BackendSpec(name="coder", kind="llamacpp", model="tiny-random", concurrency=4)
    backend = LlamaCppBackend(spec, tokenizer=tokenizer)
    yield backend
    backend.close()


def test_completions_come_back_in_the_callers_order(scripted):
    prompts = [prompt(f"app{k}") for k in range(12)]
    outputs = scripted.generate(prompts, 1, 0.0, 64, seed=0)
    expected = [f"prompt {hash(tuple(scripted.prompt_ids(p)))} seed 0" for p in prompts]
    assert len(set(expected)) == len(prompts)  # each answer names its own prompt
    assert [o[0].split("\n")[1][2:] for o in outputs] == expected


def test_a_completion_is_cut_after_its_last_code_block(scripted):
    (single,), (double,) = scripted.generate(
        [prompt("one"), prompt("two", ("a.py", "b.py"))], 1, 0.0, 64, seed=0
    )
    assert single.endswith("```") and "More text" not in single
    assert "More text that must go" in double  # two modules: one block is not enough


def test_greedy_decodes_once_and_sampling_seeds_each_sample(scripted):
    greedy = scripted.generate([prompt("x")], 3, 0.0, 64, seed=5)
    assert len(scripted.server.bodies) == 1 and len(set(greedy[0])) == 1
    assert scripted.server.bodies[0]["temperature"] == 0.0
    scripted.server.bodies.clear()
    sampled = scripted.generate([prompt("x")], 3, 0.7, 64, seed=5, top_p=0.9)
    assert sorted(b["seed"] for b in scripted.server.bodies) == [5, 6, 7]
    assert [s.split("seed ")[1][0] for s in sampled[0]] == ["5", "6", "7"]
    assert {(b["top_p"], b["top_k"], b["min_p"]) for b in scripted.server.bodies} == {(0.9, 0, 0.0)}


def test_prompt_ids_are_the_hf_backends_rendering(scripted, tiny_base):
    model, tokenizer = tiny_base
    hf = HFBackend(BackendSpec(name="hf", model="tiny-random"), model=model, tokenizer=tokenizer)
    p = prompt("render")
    assert scripted.prompt_ids(p) == tokenizer(hf.render(p), add_special_tokens=False)["input_ids"]


def test_without_the_binary_it_falls_back_to_hf_and_says_so(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(llama_server, "server_binary", lambda: tmp_path / "absent")
    spec = BackendSpec(name="coder", kind="llamacpp", model="tiny-random")
    with caplog.at_level(logging.ERROR, logger="cetd_lib.reconstruction.backends"):
        backend = make_backend(spec)
    assert isinstance(backend, HFBackend)
    assert "FALLING BACK" in caplog.text and "make install" in caplog.text


# --- the real server (built by make install) --------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose (its parent has not reaped it yet)
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_real_server_generates_and_stops_with_the_backend():
    assert llama_server.server_binary().is_file(), "make install builds llama-server"
    spec = BackendSpec(
        name="smol", kind="llamacpp", model="smollm2-135m-instruct", concurrency=2,
        slot_context_tokens=1024,
    )  # fmt: skip
    backend = make_backend(spec)
    assert isinstance(backend, LlamaCppBackend)
    pid = backend.server.process.pid
    try:
        outputs = backend.generate([prompt("one"), prompt("two"), prompt("three")], 1, 0.0, 24, 0)
        assert [len(o) for o in outputs] == [1, 1, 1]
        assert all(isinstance(o[0], str) and o[0] for o in outputs)
    finally:
        backend.close()
    assert _wait_gone(pid, 10), "llama-server outlived close()"


@pytest.mark.slow
def test_real_server_does_not_outlive_a_killed_owner(tmp_path):
    """The owner dies by SIGKILL (no atexit, no finally): the janitor stops the server."""
    script = textwrap.dedent(
        """
        import os, signal
        from cetd_lib.reconstruction import llama_server
        from cetd_lib.models.base import PACKAGED_MODELS
        server = llama_server.LlamaServer(
            PACKAGED_MODELS["smollm2-135m-instruct"].gguf_path(), parallel=1,
            slot_context=512, threads=1,
        )
        print(server.process.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    owner = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180
    )
    assert owner.returncode == -signal.SIGKILL, owner.stderr[-500:]
    pid = int(owner.stdout.split()[0])
    assert _wait_gone(pid, 15), "llama-server orphaned after its owner was killed"


def test_local_kind_is_the_measured_winner_per_host():
    from cetd_lib.reconstruction.backends import local_backend_choice

    assert local_backend_choice(frozenset({"avx2", "avx512f", "avx512_bf16"})) == ("hf", "bfloat16")
    assert local_backend_choice(frozenset({"avx2", "amx_bf16"})) == ("hf", "bfloat16")
    assert local_backend_choice(frozenset({"avx2", "fma", "f16c"})) == ("hf", "int8")


def test_a_broken_stream_is_a_generation_failure_not_a_zero(tmp_path):
    """A server that dies mid-request is a HARNESS_ERROR for the caller (generate_or_none)."""
    import socket
    import threading

    from cetd_lib.reconstruction.backends import is_generation_failure

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_then_hang_up():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {")
        connection.close()

    threading.Thread(target=answer_then_hang_up, daemon=True).start()
    server = llama_server.LlamaServer.__new__(llama_server.LlamaServer)
    server.port = listener.getsockname()[1]
    server.log_file = open(tmp_path / "server.log", "w+")  # noqa: SIM115
    with pytest.raises(llama_server.LlamaServerError) as error:
        server.stream_completion({"prompt": [1]}, timeout=5, stop_when=lambda text: False)
    assert is_generation_failure(error.value)
    server.log_file.close()
    listener.close()
