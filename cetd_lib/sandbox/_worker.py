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

import ast
import base64
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Sibling scripts, imported before the worker enters its namespaces (noqa: the path above).
import _comparisons  # noqa: E402
from _audit_hook import Verdict, install_audit_hook  # noqa: E402
from _events import (  # noqa: E402
    MESSAGE_CHARS,
    ResultPlugin,
    TestTimeout,
    VerdictState,
    _event_tag,
    tail,
    verify_events,
)
from _namespaces import SANDBOX_ID  # noqa: E402
from _pyc import pyc_matches, rewritten_by_pytest  # noqa: E402

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


# ---------------------------------------------------------------------------------------------
# The result plugin (lives in the worker; its state is copied into every child by fork)
# ---------------------------------------------------------------------------------------------


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
        self.check_fds: tuple[int, int] = (-1, -1)  # the child's ends of the check pipes
        self.checks: _CheckServer | None = None
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
        if self.cfg.get("assert_rewrite", True):
            _trusted_comparisons_in_rewrite(self.tests + os.sep)
            _fast_assert_locations()
        config = _prepareconfig(args, [self.plugin])
        config.option.tbstyle = "native"  # 'auto' walks every module in inspect.getmodule
        session = Session.from_config(config)
        config._do_configure()
        config.hook.pytest_sessionstart(session=session)
        self.config, self.session = config, session
        _mark_items_checked()
        # What decides a verdict, as it is before any app code runs (checked by the audit hook
        # after every test and at the end, `_events.VerdictState`).
        self.verdict_state = VerdictState(config, dict(sys.modules), self.tests, _comparisons)
        loaded = RAW_MEMORY_LOADED.intersection(sys.modules)
        if loaded:  # e.g. a `preload` module that imports ctypes: the child would have it
            raise RuntimeError(f"the worker must not load {sorted(loaded)} (raw memory)")
        # Collection matches every path against these glob patterns (the doctest plugin's
        # too: ~0.3 ms of regex compiling per app otherwise); compile them here once (fnmatch
        # caches compiled patterns) instead of in every child.
        doctest_globs = config.getoption("doctestglob", None) or ["test*.txt"]
        python_globs = [*config.getini("python_files"), *config.getini("norecursedirs")]
        for pattern in [*python_globs, *doctest_globs]:
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
    def write_files(self, job: dict) -> dict[str, str]:
        """Write the app; returns the rewritten bytecode (base64) of each test file the runner
        did not send bytecode for, so that it can send it with later jobs (bytecode.py)."""
        rewrite = self.cfg.get("assert_rewrite", True)
        supplied = job.get("pyc") or {}
        rewritten: dict[str, str] = {}
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
                if folder == self.tests and rewrite and rewritten_by_pytest(name):
                    fresh = self.precompile_test(path, supplied.get(name))
                    if fresh is not None:
                        rewritten[name] = base64.b64encode(fresh).decode("ascii")
        return rewritten

    def precompile_test(self, path: str, supplied: str | None = None) -> bytes | None:
        """Write pytest's assertion-rewritten bytecode for a test file next to it.

        The same app's tests are run for every reconstruction, so the file is rewritten once
        (parse + compile, never executed here): the runner sends the bytes with later jobs
        (`supplied`, base64) and this worker keeps them too; pytest's import hook in the child
        then loads them (pytest pycs are checked against the source hash). The bytes come from
        a worker or the runner, never from a child, so one app cannot poison another. Returns
        the bytes when the runner did not supply valid ones, else None.
        """
        from _pytest.assertion.rewrite import PYC_TAIL, _rewrite_test, _write_pyc_fp

        with open(path, "rb") as fh:
            source = fh.read()
        pyc = base64.b64decode(supplied) if supplied else None
        fresh = pyc is None or not pyc_matches(pyc, source)
        if fresh:
            # Our own copy covers the jobs queued before the runner has learnt the bytes.
            key = (path, hashlib.sha256(source).digest())
            pyc = self.pyc_cache.get(key)
            if pyc is None:
                try:
                    source_hash, code = _rewrite_test(pathlib.Path(path), self.config)
                except Exception:  # noqa: BLE001 - e.g. a SyntaxError: pytest reports it
                    return None
                buffer = io.BytesIO()
                _write_pyc_fp(buffer, source_hash, code)
                pyc = buffer.getvalue()
                if len(self.pyc_cache) >= 1024:
                    self.pyc_cache.clear()
                self.pyc_cache[key] = pyc
        cache_dir = os.path.join(os.path.dirname(path), "__pycache__")
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        os.chmod(cache_dir, 0o755)
        name = os.path.basename(path)
        with open(os.path.join(cache_dir, name[:-3] + PYC_TAIL), "wb") as fh:
            fh.write(pyc)
        return pyc if fresh else None

    def run_job(self, job: dict, send) -> dict:
        started = time.monotonic()
        try:
            self.clean()
            rewritten = self.write_files(job)
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
        # The snapshot check's pipes: the child's hook asks, this worker reads the child's
        # memory and answers (`VerdictState.serve`; close-on-exec, as os.pipe makes them).
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        os.set_blocking(reply_w, False)  # a child that never reads its answers cannot stall us
        self.check_fds = (request_w, reply_r)
        self.verdict_state.reset()
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
        os.close(request_w)
        os.close(reply_r)
        reaped = False
        try:
            # The runner may kill this pid's group itself, which is only meaningful when it
            # shares our pid namespace.
            send({"ev": "started", "pid": pid if not self.namespaces else None})
            timed_out = self.supervise(pid, float(job["timeout_s"]), key, request_r, reply_w)
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
            os.close(request_r)
            os.close(reply_w)
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
            "rewritten": rewritten,
            "checks": {"served": self.checks.served, "raw": self.checks.raw},
        }

    def supervise(self, pid: int, timeout_s: float, key: bytes, requests: int, replies: int):
        """Wait for the child to exit, answering its snapshot checks meanwhile; at the wall
        deadline kill its group. True if it timed out. The group is killed in any case, so
        stragglers forked by the app die too."""
        pidfd = os.pidfd_open(pid)  # readable once the child has exited (Linux >= 5.3)
        deadline = time.monotonic() + max(timeout_s, 0.0)
        watched = [pidfd, requests]
        checks = self.checks = _CheckServer(self.verdict_state, pid, key, replies)
        timed_out = True
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready = select.select(watched, [], [], remaining)[0]
                if pidfd in ready:
                    timed_out = False
                    break
                if requests in ready and not checks.feed(os.read(requests, 1 << 16)):
                    watched = [pidfd]  # closed, or garbage: no more answers for this child
        finally:
            os.close(pidfd)
            checks.close()
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
        # Close everything else (the worker's protocol pipes above all) except the events file
        # and the child's ends of the check pipes.
        events_fd = self.events_fd
        keep = sorted({events_fd, *self.check_fds})
        os.closerange(3, keep[0])
        for low, high in zip(keep, [*keep[1:], 1 << 16], strict=True):
            os.closerange(low + 1, high)
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
        state = self.verdict_state

        def on_overflow() -> None:
            plugin.overflow = True

        verdict = Verdict(events_fd, plugin.key, plugin.budget, _event_tag, ResultPlugin.emit)
        state.untrusted_file = install_audit_hook(
            self,
            allow_subprocess=bool(self.cfg.get("allow_subprocess")),
            deny_read=tuple(self.cfg.get("deny_read", ())),
            trusted_tests=not job.get("generated_tests"),
            verdict=verdict,
            integrity=lambda full, ask: state.changed(full=full, ask=ask),
            on_overflow=on_overflow,
            checker=self.check_fds,
        )
        plugin.seal()
        del verdict
        holder = _comparisons.install(state.untrusted_file)
        state.lists.append(("trusted comparisons", holder, tuple(holder)))

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
                    "detail": tail(repr(exc), MESSAGE_CHARS),
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
                files[name] = {"error": tail(message, MESSAGE_CHARS)}
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
        # The kernel does not apply it to root; the audit hook blocks process creation anyway.
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


# Modules that must never be in the worker (so in no child): raw memory (`_audit_hook`).
RAW_MEMORY_LOADED = frozenset({"_ctypes", "ctypes", "_cffi_backend", "_testcapi"})


class _CheckServer:
    """The worker's side of a child's snapshot checks: frames of (4-byte length, 32-hex-digit
    key tag, body); answers each valid request with the units whose bytes differ in the
    child's memory (`VerdictState.serve`, reading `/proc/<pid>/mem`, opened on the first
    request). A request that does not verify ends the service: the child's hook then gets no
    answer and the app runs into its deadline."""

    MAX_FRAME = 1 << 20

    def __init__(self, state: VerdictState, pid: int, key: bytes, replies: int) -> None:
        self.state, self.pid, self.key, self.replies = state, pid, key, replies
        self.buffer = b""
        self.mem_fd: int | None = None
        self.served = self.raw = 0  # answers given, and of them read from raw memory

    def feed(self, data: bytes) -> bool:
        """Take bytes from the request pipe; False: stop reading it."""
        if not data:
            return False
        self.buffer += data
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "little")
            if size > self.MAX_FRAME or size < 32:
                return False
            if len(self.buffer) < 4 + size:
                break
            frame, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
            if not self.answer(frame):
                return False
        return True

    def answer(self, frame: bytes) -> bool:
        mac, body = frame[:32], frame[32:]
        if not hmac.compare_digest(mac, _event_tag(self.key, b"check-request", body)):
            return False
        try:
            request = json.loads(body[16:])
            full, accept = bool(request["full"]), list(request["accept"])
        except (ValueError, KeyError, TypeError):
            return False
        if self.mem_fd is None:
            try:
                self.mem_fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self.mem_fd = -1
        differing = self.state.serve(self.mem_fd, full, accept)
        self.served += 1
        self.raw += differing is not None
        reply = body[:16] + json.dumps({"differing": differing}).encode()
        data = _event_tag(self.key, b"check-reply", reply) + reply
        data = len(data).to_bytes(4, "little") + data
        try:  # a full pipe (the child does not read its answers): the service ends
            return os.write(self.replies, data) == len(data)
        except OSError:
            return False

    def close(self) -> None:
        if self.mem_fd is not None and self.mem_fd >= 0:
            os.close(self.mem_fd)
        self.mem_fd = None


def _trusted_comparisons_in_rewrite(tests_prefix: str) -> None:
    """Apply `_comparisons.apply` to every test module under tests/ right after pytest's
    assertion rewriting (its `rewrite_asserts` is looked up at call time by `_rewrite_test`),
    so the bytecode the worker and the child compile, and the store keeps, has both. After,
    not before: pytest would otherwise explain every strict() call it finds in an assert
    (~1 ms per HumanEval test file, a fifth of the rewriting), and its chained comparisons
    come out as single ones the pass then covers."""
    import _pytest.assertion.rewrite as rewrite

    original = rewrite.rewrite_asserts

    def rewrite_asserts(mod, source, module_path=None, config=None):
        original(mod, source, module_path, config)
        if module_path is not None and str(module_path).startswith(tests_prefix):
            _comparisons.apply(mod)

    rewrite.rewrite_asserts = rewrite_asserts


# The end of pytest's `AssertionRewriter.visit_Assert` that `_fast_assert_locations` replaces.
_LOCATION_LOOP = """
        for stmt in self.statements:
            for node in traverse_node(stmt):
                if getattr(node, "lineno", None) is None:"""


def _fast_assert_locations() -> bool:
    """Give pytest's rewritten asserts their positions in one loop instead of pytest's.

    `visit_Assert` ends by walking every node it made with a recursive generator and calling
    `ast.copy_location` on each node without a line number: most of rewriting a HumanEval test
    file (an ad hoc cProfile), which the cold pass pays and a warm one does not. Here the
    walk yields nothing and `_copy_missing_locations` does the same work; the bytecode is
    byte-for-byte pytest's (`tests/test_harness_bytecode.py` compares every bundled test
    file). Applied only when pytest's method has exactly that loop; True if applied."""
    import inspect

    import _pytest.assertion.rewrite as rewrite

    rewriter = rewrite.AssertionRewriter
    original = rewriter.visit_Assert
    try:
        source = inspect.getsource(original)
    except (OSError, TypeError):
        return False
    if _LOCATION_LOOP not in source or "ast.copy_location(node, assert_)" not in source:
        return False
    walk = rewrite.traverse_node

    def visit_Assert(self, assert_):  # noqa: N802 - pytest's name
        rewrite.traverse_node = _no_nodes
        try:
            statements = original(self, assert_)
        finally:
            rewrite.traverse_node = walk
        _copy_missing_locations(statements, assert_)
        return statements

    rewriter.visit_Assert = visit_Assert
    return True


def _no_nodes(node):
    return ()


def _copy_missing_locations(statements, assert_, _ast=ast.AST) -> None:
    """What `ast.copy_location(node, assert_)` does to every node (of `statements`, at any
    depth) that has no line number; the order does not matter (each node gets the assert's)."""
    where = (assert_.lineno, assert_.col_offset, assert_.end_lineno, assert_.end_col_offset)
    stack = list(statements)
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        if getattr(node, "lineno", None) is None and "lineno" in node._attributes:
            node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = where
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, _ast):
                push(value)
            elif isinstance(value, list):
                extend([item for item in value if isinstance(item, _ast)])


def _mark_items_checked() -> None:
    """Do here what pytest does on the first instance of each Item class: mark it as checked
    for the Item/Collector diamond (`Node._check_item_and_collector_diamond_inheritance`),
    for pytest's own classes that have no Collector base (it would never warn of them).
    Otherwise every child writes the flag into `Function`'s and `FunctionDefinition`'s
    dicts, which the verdict check then compares entry by entry."""
    from _pytest.nodes import Collector, Item

    flag = "_pytest_diamond_inheritance_warning_shown"
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "_pytest" or name.startswith("_pytest.")):
            continue
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, Item)
                and not any(issubclass(base, Collector) for base in value.__bases__)
                and flag not in value.__dict__
            ):
                setattr(value, flag, True)


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
# The Python-level audit hook (PEP 578). NOT a security boundary: see docs/harness.md.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------------


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg.get("sandbox") == "namespaces" and not cfg.get("entered"):
        # Entered by `_namespaces.py --worker`, which then execs this script: entering needs
        # ctypes, which this process must never load (see `_namespaces`).
        message = {"ev": "fatal", "traceback": "namespaced workers start via _namespaces.py"}
        os.write(1, (json.dumps(message) + "\n").encode())
        raise SystemExit(3)
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
            "tests_dir": worker.tests,  # where test files live: bytecode keys include it
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
