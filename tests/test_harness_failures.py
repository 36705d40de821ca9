"""Failure taxonomy: one test per class, through the real runner where the class comes from it."""

from __future__ import annotations

import math

import pytest

from cetd_lib.apps.app import App
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.reconstruction.reconstruct import reconstruct
from cetd_lib.sandbox import pool as worker_pool
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass, classify, classify_process_end
from cetd_lib.sandbox.results import RunResult, TestOutcome, assemble_result
from cetd_lib.sandbox.runner import run_app_tests

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)
TEST_F = {"test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n"}


def only_outcome(result: RunResult) -> TestOutcome:
    assert len(result.per_test) == 1, result.per_test
    return next(iter(result.per_test.values()))


def run(sources, tests=TEST_F):
    return run_app_tests(sources, tests, config=FAST)


def test_syntax_error_in_generated_module():
    outcome = only_outcome(run({"m.py": "def f(:\n    return 1\n"}))
    assert outcome.failure_class == FailureClass.SYNTAX_ERROR
    assert "src/m.py:1" in outcome.detail


def test_indentation_error_is_a_syntax_error():
    outcome = only_outcome(run({"m.py": "def f():\nreturn 1\n"}))
    assert outcome.failure_class == FailureClass.SYNTAX_ERROR


def test_missing_module_is_an_import_error():
    result = run({"other.py": "x = 1\n"})
    assert result.per_test["tests/test_m.py"].failure_class == FailureClass.IMPORT_ERROR


def test_generated_code_importing_a_missing_library_is_an_import_error():
    outcome = only_outcome(run({"m.py": "import numpyy\n\ndef f():\n    return 1\n"}))
    assert outcome.failure_class == FailureClass.IMPORT_ERROR


def test_missing_name_in_from_import_is_a_missing_symbol():
    outcome = only_outcome(run({"m.py": "def g():\n    return 1\n"}))
    assert outcome.failure_class == FailureClass.MISSING_SYMBOL


def test_missing_attribute_of_module_or_class_is_a_missing_symbol():
    tests = {
        "test_m.py": "import m\n\ndef test_mod():\n    assert m.f() == 1\n\n"
        "def test_cls():\n    assert m.C().size() == 0\n"
    }
    result = run({"m.py": "class C:\n    pass\n"}, tests)
    assert {o.failure_class for o in result.per_test.values()} == {FailureClass.MISSING_SYMBOL}


def test_attribute_error_on_a_builtin_is_a_runtime_error():
    outcome = only_outcome(run({"m.py": "def f():\n    return (1).nope\n"}))
    assert outcome.failure_class == FailureClass.RUNTIME_ERROR


def test_error_at_import_time_is_a_collection_error():
    outcome = only_outcome(run({"m.py": "x = undefined_name\n\ndef f():\n    return 1\n"}))
    assert outcome.failure_class == FailureClass.COLLECTION_ERROR
    assert "NameError" in outcome.detail


def test_wrong_result_is_an_assertion_failure():
    outcome = only_outcome(run({"m.py": "def f():\n    return 2\n"}))
    assert outcome.failure_class == FailureClass.ASSERTION_FAILURE
    assert outcome.outcome == "failed"
    assert "assert 2 == 1" in outcome.detail  # pytest's assertion rewriting is on


def test_pytest_raises_without_exception_is_an_assertion_failure():
    tests = {
        "test_m.py": "import pytest\nfrom m import f\n\ndef test_f():\n"
        "    with pytest.raises(ValueError):\n        f()\n"
    }
    outcome = only_outcome(run({"m.py": "def f():\n    return 1\n"}, tests))
    assert outcome.failure_class == FailureClass.ASSERTION_FAILURE


def test_exception_in_code_is_a_runtime_error():
    outcome = only_outcome(run({"m.py": "def f():\n    return 1 / 0\n"}))
    assert outcome.failure_class == FailureClass.RUNTIME_ERROR
    assert "ZeroDivisionError" in outcome.detail


def test_assert_inside_generated_code_is_a_runtime_error():
    outcome = only_outcome(run({"m.py": "def f():\n    assert False, 'internal'\n"}))
    assert outcome.failure_class == FailureClass.RUNTIME_ERROR


def test_slow_test_is_a_timeout_and_the_next_test_still_runs():
    tests = {
        "test_m.py": "from m import f\n\ndef test_slow():\n    assert f() == 1\n\n"
        "def test_fast():\n    assert True\n"
    }
    result = run({"m.py": "def f():\n    while True:\n        pass\n"}, tests)
    assert result.per_test["tests/test_m.py::test_slow"].failure_class == FailureClass.TIMEOUT
    assert result.per_test["tests/test_m.py::test_fast"].passed


def test_timeout_cannot_be_swallowed_by_bare_except():
    # The alarm re-fires every 50 ms after the budget, so swallowing one is not enough.
    code = (
        "def f():\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass\n    while True:\n        pass\n"
    )
    outcome = only_outcome(run({"m.py": code}))
    assert outcome.failure_class == FailureClass.TIMEOUT


def test_memory_exhaustion_is_a_resource_limit():
    outcome = only_outcome(run({"m.py": "def f():\n    return len(bytearray(10 * 1024**3))\n"}))
    assert outcome.failure_class == FailureClass.RESOURCE_LIMIT
    assert "MemoryError" in outcome.detail


def test_no_requirements_and_empty_generation_come_from_reconstruction():
    app = App("a", {"m.py": "def f():\n    return 1\n"}, TEST_F, ("f returns 1",))
    orchestra = OrchestraConfig(members=(BackendSpec(name="null", kind="null"),))
    result = reconstruct([app], orchestra, FAST, cache=None)
    assert result.records[0].score.failure_counts == {FailureClass.EMPTY_GENERATION: 1}
    no_reqs = reconstruct([app], orchestra, FAST, requirements={"a": []}, cache=None)
    assert no_reqs.records[0].score.failure_counts == {FailureClass.NO_REQUIREMENTS: 1}
    assert no_reqs.records[0].score.pass_rate == 0.0  # a real failure: it counts


def test_harness_error_is_excluded_from_scores_and_logged(monkeypatch, caplog):
    def broken(self, watchdog_s):
        raise worker_pool._WorkerDied("simulated crash of the worker")

    monkeypatch.setattr(worker_pool._WorkerProcess, "receive", broken)
    with caplog.at_level("ERROR"):
        result = run_app_tests(
            {"m.py": "def f():\n    return 1\n"},
            TEST_F,
            config=FAST,
            expected_tests=["tests/test_m.py::test_f"],
        )
    assert result.status == "harness_error"
    assert only_outcome(result).failure_class == FailureClass.HARNESS_ERROR
    assert math.isnan(result.pass_rate)  # never a made-up 0
    assert "HARNESS_ERROR" in caplog.text


# ---- the pure rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "phase", "expected"),
    [
        ({"mro": ["AssertionError"]}, "call", FailureClass.ASSERTION_FAILURE),
        ({"mro": ["AssertionError"], "raised_in_src": True}, "call", FailureClass.RUNTIME_ERROR),
        ({"mro": ["Failed"]}, "call", FailureClass.ASSERTION_FAILURE),
        ({"mro": ["ModuleNotFoundError", "ImportError"]}, "collect", FailureClass.IMPORT_ERROR),
        (
            {"mro": ["ImportError"], "message": "cannot import name 'x' from 'm'"},
            "call",
            FailureClass.MISSING_SYMBOL,
        ),
        ({"mro": ["AttributeError"], "attr_on_src": True}, "call", FailureClass.MISSING_SYMBOL),
        ({"mro": ["AttributeError"], "attr_on_src": False}, "call", FailureClass.RUNTIME_ERROR),
        (
            {"mro": ["TabError", "IndentationError", "SyntaxError"]},
            "collect",
            FailureClass.SYNTAX_ERROR,
        ),
        ({"mro": ["NameError"]}, "collect", FailureClass.COLLECTION_ERROR),
        ({"mro": ["TestTimeout"], "timeout": True}, "call", FailureClass.TIMEOUT),
        (
            {"mro": ["SandboxViolation", "PermissionError", "OSError"], "sandbox": True},
            "call",
            FailureClass.RESOURCE_LIMIT,
        ),
        ({"mro": ["OSError"], "errno": 27}, "call", FailureClass.RESOURCE_LIMIT),  # EFBIG
        ({"mro": ["OSError"], "errno": 2}, "call", FailureClass.RUNTIME_ERROR),  # ENOENT
        ({}, "call", FailureClass.RUNTIME_ERROR),
    ],
)
def test_classify_rules(facts, phase, expected):
    assert classify(facts, phase) == expected


def test_process_end_classes():
    assert classify_process_end(None, timed_out=True, output_flood=False) == FailureClass.TIMEOUT
    assert classify_process_end("SIGXCPU", timed_out=False, output_flood=False) == (
        FailureClass.TIMEOUT
    )
    assert classify_process_end("SIGKILL", timed_out=False, output_flood=False) == (
        FailureClass.RESOURCE_LIMIT
    )
    assert classify_process_end("SIGSEGV", timed_out=False, output_flood=False) == (
        FailureClass.RUNTIME_ERROR
    )
    assert classify_process_end(None, timed_out=False, output_flood=True) == (
        FailureClass.RESOURCE_LIMIT
    )


def test_child_failure_outside_tests_is_a_harness_error():
    result = assemble_result({"events": [{"ev": "child_error", "traceback": "boom"}]}, 5.0)
    assert result.status == "harness_error"
    assert math.isnan(result.pass_rate)
