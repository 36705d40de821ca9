"""What a sandboxed run produced: per-test outcomes, and how the child's events become them.

Pure functions over the events a worker returns (no processes here): each test's
`TestOutcome` with its `FailureClass`, the cross-check of the events against the child's exit
status (REWARD_HACK_SUSPECT on a mismatch), and results aligned to the tests an app expects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from cetd_lib.sandbox.failures import (
    EXCLUDED_FROM_SCORES,
    FailureClass,
    classify,
    classify_process_end,
)

log = logging.getLogger(__name__)

# Mirrors of _worker.py's exit-status channel (see there).
_FAILED_EXIT_BASE, _FAILED_EXIT_CAP = 1, 63


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
    # Set when the run ended in TIMEOUT/RESOURCE_LIMIT on a loaded machine and this is the
    # result of running it once more: the load at the first run and how it ended.
    load_rerun: str = ""

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
    tampered: list[str] = []
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
        elif kind == "tampered":
            tampered.append(str(event.get("what", "")))

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
    if tampered:  # recorded by the audit hook (`_audit_hook.py`): the verdict was reached for
        unique = list(dict.fromkeys(tampered))
        suspicions.insert(0, "verdict tampering: " + "; ".join(unique[:5]))
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

    An expected test that was skipped here is REWARD_HACK_SUSPECT (the ids come from a run
    where it passed, with the same tests). A missing id takes the outcome of its file's
    collection error if there is one (the file could not be imported), else the class of the
    process's end (timeout, crash); otherwise the test was simply not collected this time
    (e.g. parametrized over generated values):
    COLLECTION_ERROR.
    """
    expected = list(expected_tests)
    per_test: dict[str, TestOutcome] = {}
    errors = {k: v for k, v in result.per_test.items() if "::" not in k}
    for test_id in expected:
        if test_id in result.per_test:
            outcome = result.per_test[test_id]
            if outcome.outcome == "skipped":
                # The same test passed on the original code: the rebuild made it skip or
                # xfail (pytest.skip/xfail from the code), which must not read as neutral.
                outcome = replace(
                    outcome,
                    failure_class=FailureClass.REWARD_HACK_SUSPECT,
                    detail="skipped here, passed on the original code: " + outcome.detail,
                )
            per_test[test_id] = outcome
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
