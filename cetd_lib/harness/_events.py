"""Per-test events of a sandboxed run: the pytest plugin that writes them, and their check.

Run as part of the worker script (`_worker.py` imports it from its own directory; standard
library and pytest only, never imported by the package). The plugin lives in the worker and is
copied into every child by fork; each event line carries a keyed tag chained over the previous
one, so lines the tested code writes into the events file itself do not verify.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import signal
import sys
import time
import types

import pytest

MAC_HEX = 32  # hex digits of each event line's keyed BLAKE2b tag


DETAIL_CHARS = 1500


MESSAGE_CHARS = 500


class TestTimeout(BaseException):  # noqa: N818 - BaseException: `except Exception` can't eat it
    """Raised by SIGALRM when a test exceeds its budget."""


class SandboxViolation(PermissionError):  # noqa: N818 - the name users see in details
    """Raised by the audit hook when generated code does something the sandbox forbids."""


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
                event["detail"] = tail(report.longreprtext, DETAIL_CHARS)
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
                event["detail"] = tail(report.longreprtext, DETAIL_CHARS)
            event["facts"] = facts or {}
        elif report.skipped and isinstance(report.longrepr, tuple):
            event["detail"] = tail(str(report.longrepr[2]), DETAIL_CHARS)
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
        facts["detail"] = tail(f"{head}\n{facts['mro'][0]}: {message}".strip(), DETAIL_CHARS)
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


def tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]
