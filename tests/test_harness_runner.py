"""The sandboxed runner: per-test results, isolation between apps, timeouts, cleanup, pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cetd_lib.sandbox import pool as worker_pool
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.sandbox.pool import SandboxPool
from cetd_lib.sandbox.results import RunJob, RunResult, TestOutcome, align_to_expected
from cetd_lib.sandbox.runner import run_app_tests, run_many

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)

ROMAN = {
    "roman.py": "def to_roman(n):\n    vals = [(10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), "
    "(1, 'I')]\n    out = ''\n    for v, s in vals:\n        while n >= v:\n"
    "            out += s\n            n -= v\n    return out\n"
}
ROMAN_TESTS = {
    "test_roman.py": (
        "import pytest\nfrom roman import to_roman\n\n"
        "def test_one():\n    assert to_roman(1) == 'I'\n\n"
        "@pytest.mark.parametrize('n,s', [(4, 'IV'), (9, 'IX'), (14, 'XIV')])\n"
        "def test_table(n, s):\n    assert to_roman(n) == s\n\n"
        "class TestBig:\n    def test_twenty(self):\n        assert to_roman(20) == 'XX'\n"
    ),
}


def test_contract_per_test_keys_and_pass_rate():
    result = run_app_tests(ROMAN, ROMAN_TESTS, config=FAST)
    assert set(result.per_test) == {
        "tests/test_roman.py::test_one",
        "tests/test_roman.py::test_table[4-IV]",
        "tests/test_roman.py::test_table[9-IX]",
        "tests/test_roman.py::test_table[14-XIV]",
        "tests/test_roman.py::TestBig::test_twenty",
    }
    assert all(o.passed and o.failure_class is None for o in result.per_test.values())
    assert result.pass_rate == 1.0
    assert result.status == "ok"


def test_fractional_pass_rate():
    broken = {"roman.py": ROMAN["roman.py"].replace("(9, 'IX'), ", "")}
    result = run_app_tests(broken, ROMAN_TESTS, config=FAST)
    failed = [k for k, o in result.per_test.items() if not o.passed]
    assert failed == ["tests/test_roman.py::test_table[9-IX]"]
    assert result.pass_rate == pytest.approx(4 / 5)


def test_default_arguments_follow_the_data_layer_contract():
    result = run_many([(ROMAN, ROMAN_TESTS)])[0]  # default config and pool
    assert result.pass_rate == 1.0


def test_run_many_keeps_job_order():
    jobs = [
        (
            {"m.py": f"def f():\n    return {i}\n"},
            {"test_m.py": f"from m import f\n\ndef test_f():\n    assert f() == {i % 2}\n"},
        )
        for i in range(6)
    ]
    results = run_many(jobs, workers=2, config=FAST)
    assert [r.pass_rate for r in results] == [1.0 if i < 2 else 0.0 for i in range(6)]


def test_modules_of_one_app_never_leak_into_the_next():
    first = (
        {"m.py": "import json\njson.leaked = True\nVALUE = 1\n"},
        {"test_m.py": "import m\n\ndef test_v():\n    assert m.VALUE == 1\n"},
    )
    second = (
        {"m.py": "VALUE = 2\n"},
        {
            "test_m.py": "import json\nimport m\n\ndef test_v():\n    assert m.VALUE == 2\n\n"
            "def test_no_leak():\n    assert not hasattr(json, 'leaked')\n"
        },
    )
    results = run_many([first, second, first, second], workers=1, config=FAST)
    assert [r.pass_rate for r in results] == [1.0, 1.0, 1.0, 1.0]


def test_conftest_fixtures_and_builtin_fixtures_work():
    tests = {
        "conftest.py": "import pytest\n\n@pytest.fixture\ndef base():\n    return 40\n",
        "test_m.py": (
            "from m import add, shout\n\n"
            "def test_fixture(base):\n    assert add(base, 2) == 42\n\n"
            "def test_capsys(capsys):\n    shout('hi')\n"
            "    assert capsys.readouterr().out == 'HI\\n'\n\n"
            "def test_tmp(tmp_path):\n    p = tmp_path / 'x.txt'\n"
            "    p.write_text('ok')\n    assert p.read_text() == 'ok'\n\n"
            "def test_more(tmpdir, caplog, monkeypatch, record_property, recwarn):\n"
            "    monkeypatch.setenv('X', '1')\n    record_property('k', 1)\n"
            "    assert tmpdir.isdir()\n"
        ),
    }
    sources = {"m.py": "def add(a, b):\n    return a + b\n\ndef shout(s):\n    print(s.upper())\n"}
    result = run_app_tests(sources, tests, config=FAST)
    assert len(result.per_test) == 4
    assert result.pass_rate == 1.0, result.per_test


def test_several_modules_and_test_files():
    sources = {
        "store.py": "from util import norm\n\nclass Store:\n    def __init__(self):\n"
        "        self.d = {}\n    def put(self, k, v):\n"
        "        self.d[norm(k)] = v\n    def get(self, k):\n"
        "        return self.d[norm(k)]\n",
        "util.py": "def norm(k):\n    return k.strip().lower()\n",
    }
    tests = {
        "test_store.py": "from store import Store\n\ndef test_put():\n    s = Store()\n"
        "    s.put(' A', 1)\n    assert s.get('a') == 1\n",
        "test_util.py": "from util import norm\n\ndef test_norm():\n"
        "    assert norm(' X ') == 'x'\n",
    }
    result = run_app_tests(sources, tests, config=FAST)
    assert sorted(result.per_test) == [
        "tests/test_store.py::test_put",
        "tests/test_util.py::test_norm",
    ]
    assert result.pass_rate == 1.0


def test_one_unimportable_test_file_does_not_stop_the_others():
    tests = {
        "test_a.py": "from m import missing\n\ndef test_a():\n    pass\n",
        "test_b.py": "from m import f\n\ndef test_b():\n    assert f() == 1\n",
    }
    result = run_app_tests({"m.py": "def f():\n    return 1\n"}, tests, config=FAST)
    assert result.per_test["tests/test_a.py"].failure_class == FailureClass.MISSING_SYMBOL
    assert result.per_test["tests/test_b.py::test_b"].passed


def test_align_to_expected_spreads_a_file_error_over_its_tests():
    gold = run_app_tests(ROMAN, ROMAN_TESTS, config=FAST)
    broken = run_app_tests(
        {"roman.py": "def to_roman(:\n"},
        ROMAN_TESTS,
        config=FAST,
        expected_tests=list(gold.per_test),
    )
    assert list(broken.per_test) == list(gold.per_test)
    assert {o.failure_class for o in broken.per_test.values()} == {FailureClass.SYNTAX_ERROR}
    assert broken.pass_rate == 0.0


def test_align_to_expected_marks_uncollected_tests():
    result = RunResult(per_test={"tests/t.py::a": TestOutcome(True)})
    aligned = align_to_expected(result, ["tests/t.py::a", "tests/t.py::b[1]"])
    assert aligned.per_test["tests/t.py::a"].passed
    assert aligned.per_test["tests/t.py::b[1]"].failure_class == FailureClass.COLLECTION_ERROR
    assert aligned.pass_rate == 0.5


def test_whole_app_timeout_kills_the_group_and_marks_unfinished_tests():
    config = HarnessConfig(app_timeout_s=2.5, test_timeout_s=30.0, workers=2, cache=False)
    tests = {
        "test_m.py": "import time\nfrom m import f\n\ndef test_first():\n    assert f()\n\n"
        "def test_never():\n    time.sleep(30)\n\ndef test_after():\n"
        "    pass\n"
    }
    result = run_app_tests({"m.py": "def f():\n    return True\n"}, tests, config=config)
    assert result.status == "timeout"
    assert result.per_test["tests/test_m.py::test_first"].passed
    assert result.per_test["tests/test_m.py::test_never"].failure_class == FailureClass.TIMEOUT
    assert result.per_test["tests/test_m.py::test_after"].outcome == "not_run"
    assert result.per_test["tests/test_m.py::test_after"].failure_class == FailureClass.TIMEOUT


def test_exit_from_generated_code_is_contained():
    tests = {"test_m.py": "from m import f\n\ndef test_f():\n    f()\n\ndef test_g():\n    pass\n"}
    for code in (
        "import os\ndef f():\n    os._exit(0)\n",
        "import pytest\ndef f():\n    pytest.exit('bye')\n",
        "import sys\ndef f():\n    sys.exit(3)\n",
    ):
        # screen=False: the static screen would refuse all three before they run.
        result = run_app_tests({"m.py": code}, tests, config=replace(FAST, screen=False))
        assert not result.per_test["tests/test_m.py::test_f"].passed, code
        assert result.per_test["tests/test_m.py::test_f"].failure_class == (
            FailureClass.RUNTIME_ERROR
        ), code
    # the harness keeps going
    assert run_app_tests(ROMAN, ROMAN_TESTS, config=FAST).pass_rate == 1.0


def test_hash_seed_is_the_same_in_every_worker():
    probe = {"test_h.py": "def test_h():\n    assert hash('cetd') == 0\n"}
    results = run_many([({}, probe)] * 4, workers=2, config=FAST)
    details = {r.per_test["tests/test_h.py::test_h"].detail for r in results}
    assert len(details) == 1, details  # same str hash -> same set order everywhere


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("CETD_SECRET_TOKEN", "hunter2")
    tests = {
        "test_env.py": "import os\n\ndef test_env():\n"
        "    assert 'CETD_SECRET_TOKEN' not in os.environ\n"
        "    assert not any('proxy' in k.lower() for k in os.environ)\n"
    }
    with SandboxPool(FAST, workers=1) as pool:  # workers started after the variable was set
        assert pool.run([RunJob({}, tests)])[0].pass_rate == 1.0


def test_unsafe_file_names_are_rejected():
    for name in ("../evil.py", "/etc/evil.py", "a/../../b.py", ".hidden.py", ""):
        with pytest.raises(ValueError, match="not a safe relative path"):
            run_app_tests(
                {name: "x = 1\n"}, {"test_m.py": "def test_x():\n    pass\n"}, config=FAST
            )


def test_sandbox_directories_are_removed():
    with SandboxPool(FAST, workers=1) as pool:
        pool.run(
            [
                RunJob(
                    {"m.py": "def f():\n    return 1\n"},
                    {
                        "test_m.py": "from m import f\n\ndef test_f(tmp_path):\n"
                        "    (tmp_path / 'x').write_text('1')\n"
                        "    open('left_behind.txt', 'w').write('x')\n"
                        "    assert f() == 1\n"
                    },
                )
            ]
        )
        # The next app sees an emptied work dir (under namespaces the host sees none at all:
        # the worker's tmpfs lives in its own mount namespace).
        probe = (
            "import os\n\ndef test_empty():\n    assert sorted(os.listdir('.')) == "
            + repr(["pytest.ini", "src", "tests", "tmp"])
            + "\n    assert os.listdir('tmp') == []\n"
        )
        assert pool.run([RunJob({}, {"test_p.py": probe})])[0].pass_rate == 1.0
        root = pool.workers[0].root
        left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
        assert left == ([] if pool.sandbox == "namespaces" else ["pytest.ini"])
        base = pool.base
    assert not base.exists()


def test_a_killed_worker_is_replaced():
    with SandboxPool(FAST, workers=1) as pool:
        assert pool.run([RunJob(ROMAN, ROMAN_TESTS)])[0].pass_rate == 1.0
        worker = pool.workers[0]
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        result = pool.run([RunJob(ROMAN, ROMAN_TESTS)])[0]
        assert result.pass_rate == 1.0
        assert worker.alive


def test_result_round_trips_through_dict():
    result = run_app_tests(
        {"roman.py": "def to_roman(n):\n    return 'I'\n"}, ROMAN_TESTS, config=FAST
    )
    again = RunResult.from_dict(result.to_dict())
    assert again == result
    assert again.failure_counts() == {FailureClass.ASSERTION_FAILURE: 4}


def test_jobs_queued_in_a_dying_worker_are_rerun(monkeypatch):
    original = worker_pool._WorkerProcess.receive
    calls = {"n": 0}

    def dies_once(self, watchdog_s):
        calls["n"] += 1
        if calls["n"] == 1:
            self.proc.kill()  # really dead: the queued jobs must go to a new worker
            raise worker_pool._WorkerDied("simulated death with jobs queued")
        return original(self, watchdog_s)

    monkeypatch.setattr(worker_pool._WorkerProcess, "receive", dies_once)
    jobs = [RunJob(ROMAN, ROMAN_TESTS)] * 5
    with SandboxPool(FAST, workers=1) as pool:
        results = pool.run(jobs)
    assert [r.pass_rate for r in results] == [1.0] * 5


BRANCHY = {
    "m.py": "def f(x):\n    if x > 0:\n        return 1\n    return 2\n\n\n"
    "def g():\n    return 3\n",
    "broken.py": "def (:\n",
}


def test_coverage_counts_the_statements_the_tests_executed():
    # m.py has 6 statements (2 defs, if, 2 returns in f, 1 in g); f(1) misses `return 2` and
    # g's body.
    tests = {"test_m.py": "from m import f\n\ndef test_f():\n    assert f(1) == 1\n"}
    result = run_app_tests(BRANCHY, tests, config=FAST, coverage=True)
    assert result.pass_rate == 1.0
    assert result.coverage["m.py"] == {"statements": 6, "missing": 2}
    assert "NotPython" in result.coverage["broken.py"]["error"]
    assert "cetd-harness" not in result.coverage["broken.py"]["error"]  # no sandbox paths
    assert result.line_coverage == 4 / 6
    full = "from m import f, g\n\ndef test_all():\n    assert (f(1), f(0), g()) == (1, 2, 3)\n"
    assert (
        run_app_tests(BRANCHY, {"test_m.py": full}, config=FAST, coverage=True).line_coverage == 1
    )
    # Failing tests still executed lines; coverage is about execution, not outcome.
    wrong = {"test_m.py": "from m import g\n\ndef test_g():\n    assert g() == 4\n"}
    failed = run_app_tests(BRANCHY, wrong, config=FAST, coverage=True)
    assert failed.pass_rate == 0.0 and failed.coverage["m.py"] == {"statements": 6, "missing": 3}


def test_coverage_is_measured_only_when_asked_and_survives_the_round_trip():
    plain = run_app_tests(ROMAN, ROMAN_TESTS, config=FAST)
    assert plain.coverage is None and plain.line_coverage is None
    measured = run_app_tests(ROMAN, ROMAN_TESTS, config=FAST, coverage=True)
    assert measured.line_coverage == 1.0
    assert RunResult.from_dict(measured.to_dict()) == measured
    # Outcomes do not change when the tracer runs.
    assert {k: v.passed for k, v in measured.per_test.items()} == {
        k: v.passed for k, v in plain.per_test.items()
    }


def test_coverage_of_a_timed_out_app_is_not_reported():
    tests = {"test_m.py": "from m import f\n\ndef test_f():\n    while True:\n        f(1)\n"}
    slow_tests_fast_app = HarnessConfig(app_timeout_s=1.5, test_timeout_s=5.0, cache=False)
    result = run_many([RunJob(BRANCHY, tests, coverage=True)], config=slow_tests_fast_app)[0]
    assert result.status == "timeout" and result.coverage is None


def test_run_many_progress_bar_counts_every_run(capsys):
    results = run_many([(ROMAN, ROMAN_TESTS)] * 3, config=FAST, progress="rebuild tests")
    assert len(results) == 3
    err = capsys.readouterr().err
    assert "rebuild tests" in err and "3/3" in err


def test_a_killed_process_leaves_no_sandbox_directory(tmp_path):
    """SIGKILL runs no atexit: the pool's janitor still removes the sandbox root."""
    script = (
        "import os, signal\n"
        "from cetd_lib.sandbox.config import HarnessConfig\n"
        "from cetd_lib.sandbox.runner import get_pool, run_many\n"
        "config = HarnessConfig(workers=1, cache=False)\n"
        f"run_many([({ROMAN!r}, {ROMAN_TESTS!r})], config=config)\n"
        "print(get_pool(config).base, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    base = Path(done.stdout.strip())
    assert base.name.startswith("cetd-harness-")
    deadline = time.monotonic() + 10
    while base.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not base.exists()


def test_closing_a_pool_removes_its_root_and_stops_its_janitor():
    pool = SandboxPool(FAST, workers=1)
    pool.run([RunJob(ROMAN, ROMAN_TESTS)])
    pool.close()
    assert not pool.base.exists()
    assert pool._janitor.poll() is not None
