"""llama.cpp's `llama-server` as an orchestra backend on CPU: continuous batching over the GGUF.

    python -m cetd_lib.reconstruction.llama_server --install   # make install: build the binary once

Why a server: on 2 CPU cores a 0.5B model's decode is bound by reading weights, so decoding many
sequences in one batch is nearly free per sequence; llama.cpp does that with quantised kernels
(Q4_K_M straight from the packaged GGUF, no dequantised copy) and keeps a request's KV cache in
its slot, so the chat prefix every prompt shares is not recomputed (`cache_prompt`).

The binary is built by `make install` from the llama.cpp sources vendored in the pinned
`llama-cpp-python` sdist (PyPI has no wheel for this platform), for the AVX2 baseline every host
of this kind has (never `-march=native`: the hosts differ, and a native build crashed on an AMX
host, FIGURES.md). It lands in `$CETD_CACHE/bin/`, so fresh clones on the same machine reuse it.

The `llamacpp` backend (reconstruction.backends) starts one server, in its own process group, and
stops it on `close()`, at interpreter exit, and, through a janitor that waits on a pipe only
this process holds, when this process is killed (no orphan server). Prompts are rendered and
tokenised by the model's Hugging Face tokenizer, the same text the `hf` backend feeds its model,
and sent as token ids; each completion is streamed and cut once it has closed as many code
blocks as the app has modules, as the `hf` backend stops a row.

What it does not do: teacher-forced scoring of given answers (the server returns log-probs of
generated tokens only); `score` runs through the same weights in torch (cetd_lib.models.scoring).
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from cetd_lib.sandbox.janitor import start_janitor

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
#: The sdist whose vendored llama.cpp is built (hash-pinned in requirements/llama-server.txt).
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
REQUIREMENTS = ROOT / "requirements" / "llama-server.txt"
#: Portable x86-64 build: the AVX2 baseline of every host of this kind, OpenMP threads, no
#: network code (no HTTPS, no web UI download), one static binary.
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_IS_DEV=OFF",
)
BUILD_VARIANT = "avx2"
INSTALL_HINT = (
    "make install  # or: .venv/bin/python -m cetd_lib.reconstruction.llama_server --install"
)


class LlamaServerError(RuntimeError):
    """The server failed to start, died, or answered with an error."""


class ServerNotInstalledError(LlamaServerError):
    """The llama-server binary has not been built on this machine."""


def server_binary() -> Path:
    """Where `make install` puts the binary: one per sdist version and build variant."""
    from cetd_lib.models.base import cache_root

    return cache_root() / "bin" / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}-{BUILD_VARIANT}"


def install_server(*, jobs: int | None = None) -> Path:
    """Build `server_binary()` unless it is there and runs; idempotent, atomic."""
    import sys

    target = server_binary()
    if _runs(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cetd-llama-build-") as work:
        work_dir = Path(work)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", "--require-hashes", "-r", str(REQUIREMENTS),
             "-d", str(work_dir)],
            check=True,
        )  # fmt: skip
        (sdist,) = work_dir.glob("llama_cpp_python-*.tar.gz")
        shutil.unpack_archive(sdist, work_dir)
        source = work_dir / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
        build = work_dir / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS], check=True
        )
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j",
             str(jobs or os.cpu_count() or 2)],
            check=True,
        )  # fmt: skip
        staging = target.with_name(target.name + ".tmp")
        shutil.copy2(build / "bin" / "llama-server", staging)
        os.replace(staging, target)
    if not _runs(target):
        raise ServerNotInstalledError(f"built {target} but it does not run (--version failed)")
    return target


def require_binary() -> Path:
    """`server_binary()`, or ServerNotInstalledError with the install command."""
    binary = server_binary()
    if not binary.is_file():
        raise ServerNotInstalledError(
            f"llama-server is not built on this machine ({binary} is missing); run: {INSTALL_HINT}"
        )
    return binary


def _runs(binary: Path) -> bool:
    if not binary.is_file():
        return False
    done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """One `llama-server` process on a free loopback port, for as long as this object lives."""

    def __init__(
        self,
        gguf: Path,
        *,
        parallel: int,
        slot_context: int,
        threads: int,
        binary: Path | None = None,
        startup_timeout_s: float = 180.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        binary = binary or require_binary()
        self.port = _free_port()
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="cetd-llama-server-", suffix=".log", delete=False
        )
        command = [
            str(binary),
            "--model", str(gguf),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--parallel", str(parallel),
            "--ctx-size", str(parallel * slot_context),
            "--threads", str(threads),
            "--threads-batch", str(threads),
            "--batch-size", "2048",
            "--no-webui",
            "--cont-batching",
            *extra_args,  # later flags win: tuning runs (benchmarks/orchestra_candidates.py)
        ]  # fmt: skip
        env = dict(os.environ)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # robust beside other jobs (docs/serving.md)
        self.process = subprocess.Popen(
            command,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        # No orphan server: its process group is killed when this process ends, even by SIGKILL.
        self._reaper = start_janitor(
            'kill -TERM -"$0" 2>/dev/null; sleep 3; kill -KILL -"$0" 2>/dev/null',
            str(self.process.pid),
        )
        atexit.register(self.close)
        try:
            self._wait_healthy(startup_timeout_s)
        except BaseException:
            self.close()
            raise

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LlamaServerError(
                    f"llama-server exited with code {self.process.returncode} while starting: "
                    f"{self.log_tail()}"
                )
            try:
                status, _ = self.request("GET", "/health", None, timeout=5)
                if status == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        raise LlamaServerError(
            f"llama-server not healthy after {timeout_s:.0f} s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return Path(self.log_file.name).read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def request(
        self, method: str, path: str, body: dict | None, *, timeout: float
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            connection.request(method, path, body=payload,
                               headers={"Content-Type": "application/json"})  # fmt: skip
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stream_completion(self, body: dict, *, timeout: float, stop_when) -> str:
        """POST /completion with `stream: true`; stop reading (and so the server's slot) as soon
        as `stop_when(text)` holds."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        text = ""
        try:
            connection.request("POST", "/completion", body=json.dumps({**body, "stream": True}),
                               headers={"Content-Type": "application/json"})  # fmt: skip
            response = connection.getresponse()
            if response.status != 200:
                raise LlamaServerError(
                    f"llama-server HTTP {response.status}: {response.read()[:300]!r}"
                )
            for raw in response:
                line = raw.strip()
                if not line.startswith(b"data: "):
                    continue
                event = json.loads(line[6:])
                piece = event.get("content", "")
                text += piece
                if event.get("stop"):
                    break
                if ("`" in piece or "~" in piece) and stop_when(text):
                    break
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # a generation failure (HARNESS_ERROR for the caller), never a 0 for the sample
            raise LlamaServerError(
                f"llama-server request failed: {type(exc).__name__}: {exc}; {self.log_tail(500)}"
            ) from exc
        finally:
            connection.close()  # a closed stream cancels the request's decoding in the server
        return text

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        if self._reaper.poll() is None:
            self._reaper.kill()
            self._reaper.wait()
        self.log_file.close()
        Path(self.log_file.name).unlink(missing_ok=True)
        atexit.unregister(self.close)


def gguf_for(model: str) -> Path:
    """The GGUF file of a packaged model name, or `model` itself if it is a .gguf path."""
    from cetd_lib.models.base import PACKAGED_MODELS

    if model in PACKAGED_MODELS:
        return PACKAGED_MODELS[model].gguf_path()
    path = Path(model)
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise LlamaServerError(
        f"llamacpp backend needs a packaged model name ({sorted(PACKAGED_MODELS)}) or a .gguf "
        f"file, got {model!r}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build llama-server for the llamacpp backend.")
    parser.add_argument("--install", action="store_true", help="build it unless it is there")
    parser.add_argument("--path", action="store_true", help="print where the binary goes")
    args = parser.parse_args(argv)
    if args.install:
        print(install_server())
    elif args.path:
        print(server_binary())
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
