"""Warm sandbox worker: keeps pytest loaded and forks one sandboxed child per app.

Run as a script by `runner.py` (`python -s -P _worker.py CONFIG_JSON`), never imported: it uses
only the standard library and pytest, and it never imports app code itself. Every app runs in a
forked child (a fresh copy of this process), so modules one app imports cannot leak into the
next.

Why this shape: a fresh `python -m pytest` per app costs ~0.3 s (FIGURES.md). Here pytest's
config, plugins and session are prepared ONCE in the worker; each child only collects and runs
the app's tests, which takes a few tens of milliseconds.

Protocol (JSON lines): the runner writes one job per line on stdin; the worker answers on stdout
with {"ev": "ready"} once, then for each job {"ev": "started", "pid": N} and
{"ev": "result", ...}. Inside, the child appends events (collected / start / report /
collect_error / coverage / end) to a file as they happen, so results of tests that finished
survive a timeout or a crash; each line carries a tag keyed per app (`verify_events`), and the
child's exit status carries pytest's own failure count, for the runner's cross-check.

With cfg["sandbox"] == "namespaces" the worker first enters its own namespaces and private root
(`_namespaces.py`), and every child drops to the unprivileged SANDBOX_ID before the tests run.
"""

from __future__ import annotations

import errno
import fnmatch
import gc
import hashlib
import hmac
import importlib
import io
import json
import os
import pathlib
import pkgutil
import resource
import select
import shutil
import signal
import sys
import time
import traceback
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _namespaces import SANDBOX_ID, enter_namespaces  # noqa: E402 - a sibling script

del sys.path[0]

# Built-in pytest plugins a sandboxed run does without: no cache or terminal output (results go
# through ResultPlugin), no faulthandler (it holds a dup of stderr), no per-session gc.collect()
# passes (unraisable/thread exception hooks: only warnings, ~10 ms per app), and options we
# never pass. Fixtures tests may use (tmpdir, record_property, caplog, ...) stay available.
DISABLED_PLUGINS = (
    "cacheprovider",
    "terminal",
    "faulthandler",
    "pastebin",
    "stepwise",
    "setuponly",
    "setupplan",
    "unraisableexception",
    "threadexception",
)
LOG_TAIL_CHARS = 2000
OVERFLOW_EXIT = 75  # child exit code: it produced more result data than allowed
# A normal child exit reports pytest's own failure counter through the exit status, a channel
# the worker reads from the kernel (wait4), apart from the events: 0 = nothing failed, else
# FAILED_EXIT_BASE + min(failed, FAILED_EXIT_CAP). The runner cross-checks it with the events.
FAILED_EXIT_BASE = 1
FAILED_EXIT_CAP = 63
MAC_HEX = 32  # hex digits of each event line's keyed BLAKE2b tag
DETAIL_CHARS = 1500
MESSAGE_CHARS = 500


class TestTimeout(BaseException):  # noqa: N818 - BaseException: `except Exception` can't eat it
    """Raised by SIGALRM when a test exceeds its budget."""


class SandboxViolation(PermissionError):  # noqa: N818 - the name users see in details
    """Raised by the audit hook when generated code does something the sandbox forbids."""


# ---------------------------------------------------------------------------------------------
# The result plugin (lives in the worker; its state is copied into every child by fork)
# ---------------------------------------------------------------------------------------------


class ResultPlugin:
    """Streams per-test outcomes to the worker and enforces the per-test budget."""

    def __init__(self) -> None:
        self.fd: int | None = None  # the events file, set in the child
        # Each event line carries a keyed BLAKE2b tag chained over the previous one; the key is
        # made per app by the worker, so a line the tested code writes itself into the events
        # file (it holds the descriptor) does not verify. See `verify_events`.
        self.key = b""
        self.tag = b""
        self.budget = 0  # bytes of events the child may still write
        self.overflow = False
        self.root_dir = ""  # the sandbox directory, with a trailing separator
        self.src_dir = ""
        self.test_timeout_s = 5.0
        self.deadline = 0.0

    def detach(self) -> None:
        """In a process forked by the tested code: drop the events file."""
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd, self.key = None, b""

    def emit(self, event: dict) -> None:
        if self.fd is None:
            return
        body = json.dumps(event, default=str).encode("utf-8", "replace")
        self.tag = _event_tag(self.key, self.tag, body)
        data = self.tag + b" " + body + b"\n"
        self.budget -= len(data)
        try:
            if self.budget < 0:
                raise OSError(errno.EFBIG, "result budget exhausted")
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:  # RLIMIT_FSIZE or our budget: stop reporting, exit with OVERFLOW_EXIT
            self.overflow = True
            self.fd = None

    # ---- collection ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        report = yield
        call = report.__dict__.get("call")  # pytest pops it before pytest_collectreport
        if report.failed and call is not None and call.excinfo is not None:
            value = call.excinfo.value
            # pytest wraps SyntaxError/ImportError of a test module in a CollectError.
            report._cetd_exc = value.__cause__ or value
        return report

    def pytest_collectreport(self, report):
        if report.failed:
            exc = getattr(report, "_cetd_exc", None)
            event = {"ev": "collect_error", "nodeid": report.nodeid, "facts": self.facts(exc, None)}
            if exc is None:
                event["detail"] = _tail(report.longreprtext, DETAIL_CHARS)
            self.emit(event)

    def pytest_collection_finish(self, session):
        self.emit({"ev": "collected", "nodeids": [item.nodeid for item in session.items]})

    # ---- running ---------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid, location):
        self.deadline = time.monotonic() + self.test_timeout_s
        self.emit({"ev": "start", "nodeid": nodeid})

    def _arm(self) -> None:
        remaining = max(self.deadline - time.monotonic(), 0.001)
        # The interval re-fires the alarm: code that swallows one TestTimeout gets another.
        signal.setitimer(signal.ITIMER_REAL, remaining, 0.05)

    def _disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)

    def _phase(self):
        self._arm()
        try:
            return (yield)
        finally:
            self._disarm()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed:
            report._cetd_facts = self.facts(call.excinfo.value, call.excinfo.tb)
        return report

    def pytest_runtest_logreport(self, report):
        event = {
            "ev": "report",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": round(report.duration, 6),
        }
        if report.failed:
            facts = getattr(report, "_cetd_facts", None)
            if facts is None:
                event["detail"] = _tail(report.longreprtext, DETAIL_CHARS)
            event["facts"] = facts or {}
        elif report.skipped and isinstance(report.longrepr, tuple):
            event["detail"] = _tail(str(report.longrepr[2]), DETAIL_CHARS)
        self.emit(event)

    # ---- facts about an exception (classified by the parent, see failures.py) --------------
    def facts(self, exc, tb) -> dict:
        if exc is None:
            return {}
        facts: dict = {"mro": [cls.__name__ for cls in type(exc).__mro__]}
        try:
            facts["message"] = str(exc)[:MESSAGE_CHARS]
        except BaseException:  # noqa: BLE001 - hostile __str__
            facts["message"] = "<unprintable>"
        # A denial or a timeout anywhere in the chain decides the class, also when the code (or
        # a library such as urllib) wrapped it in its own exception.
        chain = _exception_chain(exc)
        facts["timeout"] = any(isinstance(e, TestTimeout) for e in chain)
        facts["sandbox"] = any(isinstance(e, SandboxViolation) for e in chain)
        if isinstance(exc, OSError):
            facts["errno"] = exc.errno
        if isinstance(exc, AttributeError):
            facts["attr_on_src"] = self._owned_by_src(getattr(exc, "obj", None))
        if tb is None:
            tb = exc.__traceback__
        where = []  # frames in the app's own files (tests/, src/), innermost last
        last = None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(self.root_dir):
                where.append(
                    f"{code.co_filename[len(self.root_dir) :]}:{tb.tb_lineno} in {code.co_name}"
                )
            last = tb
            tb = tb.tb_next
        if last is not None:
            facts["raised_in_src"] = last.tb_frame.f_code.co_filename.startswith(self.src_dir)
        if isinstance(exc, SyntaxError) and exc.filename:
            where.append(f"{str(exc.filename).replace(self.root_dir, '')}:{exc.lineno}")
        head = "\n".join(where[-4:])
        message = facts["message"].replace(self.root_dir, "")
        facts["detail"] = _tail(f"{head}\n{facts['mro'][0]}: {message}".strip(), DETAIL_CHARS)
        return facts

    def _owned_by_src(self, obj) -> bool:
        """Whether obj is a generated module, or a class/instance defined in one."""
        try:
            if obj is None:
                return False
            if isinstance(obj, types.ModuleType):
                module = obj
            else:
                cls = obj if isinstance(obj, type) else type(obj)
                module = sys.modules.get(cls.__module__)
            filename = getattr(module, "__file__", None) or ""
            return filename.startswith(self.src_dir)
        except BaseException:  # noqa: BLE001
            return False


def _event_tag(key: bytes, previous: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(previous + body, key=key, digest_size=MAC_HEX // 2).hexdigest().encode()


def verify_events(data: bytes, key: bytes) -> tuple[list[dict], int, int]:
    """Parse the events file: (events, malformed lines, forged lines). A line whose tag does
    not continue the chain was not written by the result plugin; it is dropped and counted."""
    events, malformed, forged, tag = [], 0, 0, b""
    for line in data.split(b"\n"):
        if not line:
            continue
        head, _, body = line.partition(b" ")
        if len(head) != MAC_HEX or not hmac.compare_digest(head, _event_tag(key, tag, body)):
            forged += 1
            continue
        tag = head
        try:
            events.append(json.loads(body))
        except ValueError:
            malformed += 1
    return events, malformed, forged


def _exception_chain(exc: BaseException, limit: int = 10) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen and len(chain) < limit:
        seen.add(id(exc))
        chain.append(exc)
        reason = getattr(exc, "reason", None)  # urllib.error.URLError keeps the cause here
        if isinstance(reason, BaseException) and id(reason) not in seen:
            chain.append(reason)
            seen.add(id(reason))
        exc = exc.__cause__ or exc.__context__
    return chain


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------------------------
# Worker: prepare pytest once
# ---------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.root = os.path.realpath(cfg["root"])
        self.src = os.path.join(self.root, "src")
        self.tests = os.path.join(self.root, "tests")
        self.tmp = os.path.join(self.root, "tmp")
        self.ini = os.path.join(self.root, "pytest.ini")
        self.events_fd = -1  # memfds of the current app, inherited by its child
        self.log_fd = -1
        self.pyc_cache: dict[tuple[str, bytes], bytes] = {}
        self.plugin = ResultPlugin()
        self.tracer = None  # coverage.Coverage, made on the first job that asks for coverage
        self.plugin.src_dir = self.src + os.sep
        self.plugin.root_dir = self.root + os.sep
        self.uid = os.getuid()
        self.namespaces = cfg.get("sandbox") == "namespaces"

    def prepare(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        os.chdir(self.root)
        self.clean()
        with open(self.ini, "w") as fh:
            fh.write("[pytest]\n")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"

        import _pytest
        from _pytest.config import _prepareconfig
        from _pytest.main import Session

        for info in pkgutil.iter_modules(_pytest.__path__, "_pytest."):
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - optional internals (e.g. pytester deps)
                pass
        for name in self.cfg.get("preload", ()):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a missing optional stdlib module is fine
                pass

        args = [
            *("-c", self.ini, "--rootdir", self.root),
            *("--basetemp", os.path.join(self.tmp, "pt")),
            "--capture=sys",  # in memory: fd capture would share temp files across forks
            "--continue-on-collection-errors",  # one unimportable file must not stop the rest
        ]
        for plugin in DISABLED_PLUGINS:
            args += ["-p", f"no:{plugin}"]
        if not self.cfg.get("assert_rewrite", True):
            args.append("--assert=plain")
        args.append("tests")  # does not exist yet: no conftest is loaded in the worker
        config = _prepareconfig(args, [self.plugin])
        config.option.tbstyle = "native"  # 'auto' walks every module in inspect.getmodule
        session = Session.from_config(config)
        config._do_configure()
        config.hook.pytest_sessionstart(session=session)
        self.config, self.session = config, session
        # Collection matches every path against these glob patterns; compile them here once
        # (fnmatch caches compiled patterns) instead of in every child.
        for pattern in [*config.getini("python_files"), *config.getini("norecursedirs")]:
            fnmatch.fnmatch("warm-up", pattern)
        gc.collect()
        gc.freeze()  # keep the collector from touching (and copying) the shared pages

    def clean(self) -> None:
        """Remove everything an app left in the root, except pytest.ini and the (emptied)
        src/, tests/, tests/__pycache__/ and tmp/ directories. Keeping those is not cosmetic:
        on a filesystem mounted with `discard`, each rmdir costs milliseconds."""
        keep = {self.src, self.tests, self.tmp, os.path.join(self.tests, "__pycache__")}
        self._empty(self.root, keep | {self.ini}, keep)

    def _empty(self, folder: str, keep: set[str], keep_dirs: set[str]) -> None:
        try:
            os.chmod(folder, 0o700)  # the app may have locked its own directories
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for entry in entries:
            path = entry.path
            if entry.is_dir(follow_symlinks=False):
                if path in keep_dirs:
                    self._empty(path, keep, keep_dirs)
                else:
                    _rmtree(path)
            elif path not in keep:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # -----------------------------------------------------------------------------------------
    # One job
    # -----------------------------------------------------------------------------------------
    def write_files(self, job: dict) -> None:
        for folder in (self.src, self.tests, self.tmp):
            os.makedirs(folder, exist_ok=True)
        if self.namespaces:  # `clean` left these 0700; the child runs as SANDBOX_ID
            os.chmod(self.root, 0o1777)  # sticky: it may add files, never replace ours
            for folder in (self.src, self.tests, os.path.join(self.tests, "__pycache__")):
                if os.path.isdir(folder):
                    os.chmod(folder, 0o755)
            os.chown(self.tmp, SANDBOX_ID, SANDBOX_ID)
        for folder, files in ((self.src, job["sources"]), (self.tests, job["tests"])):
            for name, text in files.items():
                path = os.path.join(folder, name)
                if not os.path.realpath(path).startswith(folder + os.sep):
                    raise ValueError(f"unsafe file name {name!r}")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                if folder == self.tests and self.cfg.get("assert_rewrite", True):
                    self.precompile_test(path)

    def precompile_test(self, path: str) -> None:
        """Write pytest's assertion-rewritten bytecode for a test file next to it.

        The same app's tests are run for every reconstruction, so the worker rewrites each test
        file once (parse + compile, never executed here) and keeps the bytes; pytest's import
        hook in the child then loads them (pytest pycs are checked against the source hash). The
        bytes come from the worker, never from a child, so one app cannot poison another.
        """
        name = os.path.basename(path)
        if not (
            name == "conftest.py"
            or fnmatch.fnmatch(name, "test_*.py")
            or fnmatch.fnmatch(name, "*_test.py")
        ):
            return
        from _pytest.assertion.rewrite import PYC_TAIL, _rewrite_test, _write_pyc_fp

        with open(path, "rb") as fh:
            key = (path, hashlib.sha256(fh.read()).digest())
        pyc = self.pyc_cache.get(key)
        if pyc is None:
            try:
                source_hash, code = _rewrite_test(pathlib.Path(path), self.config)
            except Exception:  # noqa: BLE001 - e.g. a SyntaxError: pytest reports it in the child
                return
            buffer = io.BytesIO()
            _write_pyc_fp(buffer, source_hash, code)
            pyc = buffer.getvalue()
            if len(self.pyc_cache) >= 1024:
                self.pyc_cache.clear()
            self.pyc_cache[key] = pyc
        cache_dir = os.path.join(os.path.dirname(path), "__pycache__")
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        os.chmod(cache_dir, 0o755)
        with open(os.path.join(cache_dir, name[:-3] + PYC_TAIL), "wb") as fh:
            fh.write(pyc)

    def run_job(self, job: dict, send) -> dict:
        started = time.monotonic()
        try:
            self.clean()
            self.write_files(job)
        except Exception as exc:  # noqa: BLE001
            self.clean()
            return {"ev": "result", "harness_error": f"could not write files: {exc!r}"}
        # Events and the child's stdout/stderr go to memory-backed files (memfd): a write is
        # kept even if the child is killed a moment later, and, unlike a pipe, wakes nobody up
        # (with ~20 events per app, pipe wake-ups cost more than running the tests); unlike a
        # file on disk there is no truncate/unlink cost (discard-mounted ext4: milliseconds).
        # Fresh ones per app, so nothing an app leaves running can write into the next app's.
        if job.get("coverage") and self.tracer is None:
            self.tracer = self.new_tracer()  # once per worker; every child starts its own copy
        # Both are close-on-exec (memfd_create's default): nothing the code executes inherits
        # them; a process it forks loses the events file at fork (see `child`).
        self.events_fd = os.memfd_create("cetd-events", os.MFD_CLOEXEC)
        self.log_fd = os.memfd_create("cetd-output", os.MFD_CLOEXEC)
        key = os.urandom(32)
        self.plugin.key, self.plugin.tag = key, b""
        pid = os.fork()
        if pid == 0:  # ----------------------------------------------------- sandboxed child
            code = 70
            try:
                failed = self.child(job)
                if self.plugin.overflow:
                    code = OVERFLOW_EXIT
                else:
                    code = FAILED_EXIT_BASE + min(failed, FAILED_EXIT_CAP) if failed else 0
            except BaseException:  # noqa: BLE001
                try:
                    self.plugin.fd = self.events_fd
                    self.plugin.emit({"ev": "child_error", "traceback": traceback.format_exc()})
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        self.plugin.key = b""
        reaped = False
        try:
            # The runner may kill this pid's group itself, which is only meaningful when it
            # shares our pid namespace.
            send({"ev": "started", "pid": pid if not self.namespaces else None})
            timed_out = self.supervise(pid, float(job["timeout_s"]))
            status, rusage = _reap(pid)
            reaped = True
            exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            cap = int(self.cfg.get("max_output_mb", 32)) * 1024 * 1024
            data = os.pread(self.events_fd, cap + 1, 0)
            flood = len(data) > cap or exit_code == OVERFLOW_EXIT
            log_size = os.fstat(self.log_fd).st_size
            start = max(0, log_size - LOG_TAIL_CHARS)
            log_tail = os.pread(self.log_fd, log_size - start, start).decode("utf-8", "replace")
        finally:
            if not reaped:  # after a reap the pid may belong to someone else: never kill it
                _killpg(pid)
                _reap(pid)
            if self.namespaces:
                _kill_strays()
            os.close(self.events_fd)
            os.close(self.log_fd)
        self.clean()
        events, malformed, forged = verify_events(data, key)
        signame = None
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            try:
                signame = signal.Signals(signum).name
            except ValueError:
                signame = f"SIG{signum}"
        return {
            "ev": "result",
            "events": events,
            "malformed": malformed,
            "forged": forged,
            "timed_out": timed_out,
            "output_flood": flood,
            "signal": signame,
            "exit_code": exit_code,
            "log_tail": log_tail,
            "duration_s": time.monotonic() - started,
            "cpu_s": rusage.ru_utime + rusage.ru_stime if rusage else None,
        }

    def supervise(self, pid: int, timeout_s: float) -> bool:
        """Wait for the child to exit; at the wall deadline kill its group. True if it timed
        out. The group is killed in any case, so stragglers forked by the app die too."""
        pidfd = os.pidfd_open(pid)  # readable once the child has exited (Linux >= 5.3)
        try:
            timed_out = not select.select([pidfd], [], [], max(timeout_s, 0.0))[0]
        finally:
            os.close(pidfd)
        _killpg(pid)
        return timed_out

    # -----------------------------------------------------------------------------------------
    # In the child
    # -----------------------------------------------------------------------------------------
    def child(self, job: dict) -> int:
        """Run the app's tests; returns pytest's own count of failed reports."""
        # Own process group: the worker kills the group at the end. Not setsid(): with
        # CONFIG_SCHED_AUTOGROUP a new session costs ~2 ms of scheduler set-up per app.
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(self.log_fd, 1)
        os.dup2(self.log_fd, 2)
        # Close everything else (the worker's protocol pipes above all) except the events file.
        events_fd = self.events_fd
        os.closerange(3, events_fd)
        os.closerange(events_fd + 1, 1 << 16)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes raise OSError(EFBIG)
        signal.signal(signal.SIGALRM, _on_alarm)
        self.set_limits(float(job["timeout_s"]))
        if self.namespaces:
            # From here on an unprivileged user of this worker's user namespace: no capability
            # (so the mounts stay as they are and RLIMIT_NPROC holds), src/ and tests/ are
            # read-only to it by file mode, and it cannot signal or trace the worker.
            os.setgroups([])
            os.setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
            os.setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        # A process the code forks (allow_subprocess) must not hold the events file.
        os.register_at_fork(after_in_child=self.plugin.detach)

        import random
        import tempfile

        random.seed(0)  # unseeded randomness in tests behaves the same in every run
        tempfile.tempdir = self.tmp
        sys.path.insert(0, self.src)
        sys.dont_write_bytecode = True
        os.chdir(self.root)
        plugin = self.plugin
        plugin.fd = events_fd
        plugin.budget = int(self.cfg.get("max_output_mb", 32)) * 1024 * 1024
        plugin.test_timeout_s = float(job["test_timeout_s"])
        tracer = self.tracer if job.get("coverage") else None
        if tracer is not None:
            tracer.start()
        _install_guard(
            self,
            allow_subprocess=bool(self.cfg.get("allow_subprocess")),
            deny_read=tuple(self.cfg.get("deny_read", ())),
        )

        config, session = self.config, self.session
        exitstatus = 0
        try:
            config.hook.pytest_collection(session=session)
            config.hook.pytest_runtestloop(session=session)
        except BaseException as exc:  # noqa: BLE001 - pytest.exit(), Interrupted, our timeout
            plugin.emit(
                {
                    "ev": "aborted",
                    "facts": plugin.facts(exc, None),
                    "detail": _tail(repr(exc), MESSAGE_CHARS),
                }
            )
            exitstatus = 2
        try:
            config.hook.pytest_sessionfinish(session=session, exitstatus=exitstatus)
        except BaseException:  # noqa: BLE001 - results are already out
            pass
        if tracer is not None:
            plugin.emit(self.coverage_event(tracer, job["sources"]))
        failed = int(getattr(session, "testsfailed", 0))
        plugin.emit({"ev": "end", "testsfailed": failed})
        return failed

    def new_tracer(self):
        """Line coverage of src/ only (coverage.py, in memory: data_file=None writes nothing).
        Made in the worker, never started there: a forked child starts its copy, which takes
        coverage's set-up out of every app's time."""
        import coverage

        return coverage.Coverage(
            data_file=None, config_file=False, include=[self.src + os.sep + "*"]
        )

    def coverage_event(self, tracer, sources: dict) -> dict:
        """Statements and missed statements per source module. The code under test ran in
        this process and could have stopped the tracer: that only lowers its own coverage."""
        tracer.stop()
        files: dict = {}
        for name in sources:
            if not name.endswith(".py"):
                continue
            try:
                _, statements, _, missing, _ = tracer.analysis2(os.path.join(self.src, name))
            except Exception as exc:  # noqa: BLE001 - e.g. NotPython: the module does not parse
                message = repr(exc).replace(self.root + os.sep, "")
                files[name] = {"error": _tail(message, MESSAGE_CHARS)}
                continue
            files[name] = {"statements": len(statements), "missing": len(missing)}
        return {"ev": "coverage", "files": files}

    def set_limits(self, timeout_s: float) -> None:
        mb = 1024 * 1024
        cpu = int(timeout_s) + 2
        limits = [
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_FSIZE, int(self.cfg.get("file_size_mb", 16)) * mb),
            (resource.RLIMIT_NOFILE, int(self.cfg.get("max_open_files", 256))),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_AS, int(self.cfg.get("memory_mb", 2048)) * mb),
        ]
        # RLIMIT_NPROC counts every process of the user, so leave room for the ones running.
        # The kernel does not apply it to root; the audit guard blocks process creation anyway.
        # In namespaces the child is the only process of its (unprivileged) user.
        if self.namespaces:
            limits.append((resource.RLIMIT_NPROC, int(self.cfg.get("max_processes", 32))))
        elif self.uid != 0:
            limits.append(
                (
                    resource.RLIMIT_NPROC,
                    _user_processes(self.uid) + int(self.cfg.get("max_processes", 32)),
                )
            )
        for which, value in limits:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))


def _on_alarm(signum, frame):
    raise TestTimeout("test exceeded its time budget")


def _user_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _kill_strays() -> None:
    """In the worker's pid namespace (where it is pid 1): kill and reap every process but
    itself, e.g. one the code forked that left the child's process group with setsid()."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != "1":
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int):
    try:
        _, status, rusage = os.wait4(pid, 0)
        return status, rusage
    except ChildProcessError:
        return 0, None


def _rmtree(path: str) -> None:
    def fix_and_retry(func, target, exc_info):
        try:  # the app may have removed write/execute permission from its own dirs
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix_and_retry)


# ---------------------------------------------------------------------------------------------
# The Python-level guard (audit hook, PEP 578). NOT a security boundary: see docs/harness.md.
# ---------------------------------------------------------------------------------------------


def _install_guard(worker: Worker, *, allow_subprocess: bool, deny_read: tuple[str, ...]) -> None:
    realpath, join, isabs = os.path.realpath, os.path.join, os.path.isabs
    fsdecode, getcwd, readlink, getpid, getpgrp = (
        os.fsdecode,
        os.getcwd,
        os.readlink,
        os.getpid,
        os.getpgrp,
    )
    root = worker.root + os.sep
    protected_dirs = (worker.src + os.sep, worker.tests + os.sep)
    protected = frozenset({worker.root, worker.src, worker.tests, worker.ini})
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    af_unix = 1  # socket.AF_UNIX on Linux; no socket import needed

    def resolve(path, dir_fd=None):
        path = fsdecode(path)
        if not isabs(path):
            base = getcwd() if dir_fd in (None, -1) else readlink(f"/proc/self/fd/{dir_fd}")
            path = join(base, path)
        return realpath(path)

    def check_write(path, dir_fd=None, what="write to"):
        if isinstance(path, int) or path is None:
            return  # an already-open descriptor
        target = resolve(path, dir_fd)
        if target == os.devnull:
            return
        if not target.startswith(root) or target.startswith(protected_dirs) or target in protected:
            raise SandboxViolation(f"sandbox: {what} {target} is outside the writable sandbox")

    def on_open(args):
        path, mode, flags = args
        if isinstance(path, int):
            return
        if isinstance(flags, int) and flags >= 0:
            writing = bool(flags & write_flags)
        else:
            writing = any(c in (mode or "") for c in "wax+")
        if writing:
            check_write(path)
        elif deny_read:
            target = resolve(path)
            if target.startswith(deny_read):
                raise SandboxViolation(f"sandbox: reading {target} is not allowed")

    def path_dirfd(args):  # (path, dir_fd) / (path, mode, dir_fd) / (path, uid, gid, dir_fd)
        check_write(
            args[0], args[-1] if len(args) > 1 and isinstance(args[-1], int) else None, "changing"
        )

    def two_paths(args):  # (src, dst, src_dir_fd, dst_dir_fd)
        check_write(args[0], args[2] if len(args) > 2 else None, "moving/linking")
        check_write(args[1], args[3] if len(args) > 3 else None, "moving/linking")

    def symlink(args):  # (src, dst, dir_fd): only where the link is created matters
        check_write(args[1], args[2] if len(args) > 2 else None, "creating a link at")

    def truncate(args):
        check_write(args[0], None, "truncating")

    def deny(message):
        def handler(args):
            raise SandboxViolation(f"sandbox: {message}")

        return handler

    def kill(args):
        pid = args[0]
        if pid not in (0, getpid()):
            raise SandboxViolation(f"sandbox: sending a signal to process {pid} is not allowed")

    def killpg(args):
        if args[0] not in (0, getpgrp()):
            raise SandboxViolation(f"sandbox: signalling process group {args[0]} is not allowed")

    def new_socket(args):
        if args[1] != af_unix:
            raise SandboxViolation("sandbox: network access is disabled")

    handlers = {
        "open": on_open,
        "os.remove": path_dirfd,
        "os.rmdir": path_dirfd,
        "os.mkdir": path_dirfd,
        "os.chmod": path_dirfd,
        "os.chown": path_dirfd,
        "os.utime": path_dirfd,
        "os.chflags": path_dirfd,
        "os.lchflags": path_dirfd,
        "shutil.rmtree": path_dirfd,
        "os.rename": two_paths,
        "os.link": two_paths,
        "os.symlink": symlink,
        "os.truncate": truncate,
        "os.kill": kill,
        "os.killpg": killpg,
        "socket.__new__": new_socket,
        "socket.getaddrinfo": deny("network access is disabled"),
        "socket.gethostbyname": deny("network access is disabled"),
        "socket.gethostbyaddr": deny("network access is disabled"),
        "socket.getnameinfo": deny("network access is disabled"),
        "resource.setrlimit": deny("changing resource limits is not allowed"),
        "resource.prlimit": deny("changing resource limits is not allowed"),
        # Walking the heap reaches this hook's handler table and the result plugin's key.
        "gc.get_objects": deny("walking the heap with gc is not allowed"),
        "gc.get_referrers": deny("walking the heap with gc is not allowed"),
        "gc.get_referents": deny("walking the heap with gc is not allowed"),
        # Native code could undo every check below, so loading it through ctypes is refused.
        "ctypes.dlopen": deny("loading native libraries with ctypes is not allowed"),
        "ctypes.dlsym": deny("loading native symbols with ctypes is not allowed"),
        "ctypes.dlsym/handle": deny("loading native symbols with ctypes is not allowed"),
    }
    if not allow_subprocess:
        no_process = deny("creating processes is not allowed")
        for event in (
            "os.fork",
            "os.forkpty",
            "os.system",
            "os.exec",
            "os.posix_spawn",
            "os.spawn",
            "subprocess.Popen",
            "pty.spawn",
        ):
            handlers[event] = no_process
    get = handlers.get

    def hook(event, args):
        handler = get(event)
        if handler is not None:
            handler(args)

    sys.addaudithook(hook)


# ---------------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------------


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg.get("sandbox") == "namespaces":
        try:
            enter_namespaces(cfg)
        except BaseException:  # noqa: BLE001 - the runner decides whether to fall back
            os.write(
                1,
                (json.dumps({"ev": "fatal", "traceback": traceback.format_exc()}) + "\n").encode(),
            )
            raise SystemExit(3) from None
    # Protocol on private descriptors; fd 0/1 point at /dev/null and the worker log so stray
    # prints (ours or pytest's) can never corrupt the protocol.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)

    def send(message: dict) -> None:
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(proto_out, view) :]

    worker = Worker(cfg)
    try:
        worker.prepare()
    except BaseException:  # noqa: BLE001
        send({"ev": "fatal", "traceback": traceback.format_exc()})
        raise
    send(
        {
            "ev": "ready",
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "pytest": sys.modules["pytest"].__version__,
            "sandbox": "namespaces" if worker.namespaces else "rlimits-only",
        }
    )
    for line in proto_in:
        job = json.loads(line)
        try:
            result = worker.run_job(job, send)
        except Exception:  # noqa: BLE001
            result = {"ev": "result", "harness_error": traceback.format_exc()}
        result["id"] = job.get("id")
        send(result)


if __name__ == "__main__":
    main()
