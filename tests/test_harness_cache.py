"""The shared SQLite result cache: hits, concurrent writers, and graceful degradation."""

from __future__ import annotations

import multiprocessing
import sqlite3
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from cetd_lib.sandbox.cache import CacheUnavailableWarning, ResultCache, open_cache, result_key
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.sandbox.runner import run_many

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)
GOOD = (
    {"m.py": "def f():\n    return 1\n"},
    {
        "test_m.py": "from m import f\n\ndef test_f():\n    assert f() == 1\n\n"
        "def test_g():\n    assert f() == 2\n"
    },
)


def test_round_trip_and_key_sensitivity(tmp_path: Path):
    cache = ResultCache(tmp_path / "c.sqlite")
    key = result_key(*GOOD, limits={"memory_mb": 1}, timeout_s=3)
    cache.put(key, {"x": [1, 2]})
    assert cache.get(key) == {"x": [1, 2]}
    assert len(cache) == 1
    assert result_key(*GOOD, limits={"memory_mb": 2}, timeout_s=3) != key
    assert result_key(GOOD[0], {"test_m.py": "x"}, limits={"memory_mb": 1}, timeout_s=3) != key
    assert result_key(*GOOD, limits={"memory_mb": 1}, timeout_s=4) != key


def test_runner_uses_the_cache(tmp_path: Path):
    cache = ResultCache(tmp_path / "c.sqlite")
    first = run_many([GOOD], config=FAST, cache=cache)[0]
    second = run_many([GOOD], config=FAST, cache=cache)[0]
    assert not first.from_cache and second.from_cache
    assert second.per_test == first.per_test
    assert second.pass_rate == 0.5
    # expected ids are applied after the cache: same entry, different view
    aligned = run_many([(*GOOD, ["tests/test_m.py::test_f"])], config=FAST, cache=cache)[0]
    assert aligned.from_cache and list(aligned.per_test) == ["tests/test_m.py::test_f"]


def test_timeouts_are_not_cached(tmp_path: Path):
    cache = ResultCache(tmp_path / "c.sqlite")
    loop = (
        {"m.py": "def f():\n    while True:\n        pass\n"},
        {"test_m.py": "from m import f\n\ndef test_f():\n    f()\n"},
    )
    run_many([loop], config=FAST, cache=cache)
    assert len(cache) == 0


# A test that hits a resource limit (RLIMIT_AS) next to one that passes.
MEMORY = (
    {"m.py": "def f():\n    return bytearray(8 * 1024**3)\n\ndef g():\n    return 1\n"},
    {
        "test_m.py": "from m import f, g\n\ndef test_f():\n    f()\n\n"
        "def test_g():\n    assert g() == 1\n"
    },
)


def test_resource_limit_results_are_not_cached_and_a_loaded_machine_reruns_them(
    tmp_path: Path,
):
    cache = ResultCache(tmp_path / "c.sqlite")
    quiet = replace(FAST, load_rerun_per_core=float("inf"))  # never counts as loaded
    first = run_many([MEMORY], config=quiet, cache=cache)[0]
    assert first.per_test["tests/test_m.py::test_f"].failure_class == FailureClass.RESOURCE_LIMIT
    assert first.load_rerun == "" and len(cache) == 0
    loaded = replace(FAST, load_rerun_per_core=-1.0)  # always counts as loaded
    again = run_many([MEMORY], config=loaded, cache=cache)[0]
    assert again.load_rerun.startswith("rerun once: load "), again.detail
    assert "which ended ok with RESOURCE_LIMIT" in again.load_rerun
    assert again.per_test["tests/test_m.py::test_g"].passed  # the second run's own outcome
    assert len(cache) == 0
    good = run_many([GOOD], config=loaded, cache=cache)[0]  # nothing to rerun, cached
    assert good.load_rerun == "" and len(cache) == 1


def _writer(path: str, worker: int, count: int) -> None:
    cache = ResultCache(path)
    cache.put_many({f"{worker}-{i}": {"worker": worker, "i": i} for i in range(count)})
    for i in range(count):
        cache.put(f"{worker}-single-{i}", {"i": i})


def test_concurrent_writers_from_several_processes(tmp_path: Path):
    path = str(tmp_path / "shared.sqlite")
    ResultCache(path)  # create the schema once, as a first run would
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_writer, args=(path, w, 40)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    cache = ResultCache(path)
    assert len(cache) == 4 * 80
    assert cache.get("3-39") == {"worker": 3, "i": 39}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_garbage_file_degrades_to_no_cache_with_one_warning(tmp_path: Path):
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(CacheUnavailableWarning) as caught:
        cache = ResultCache(path)
        results = [run_many([GOOD], config=FAST, cache=cache)[0] for _ in range(2)]
    assert len(caught) == 1
    assert not cache.enabled
    assert [r.pass_rate for r in results] == [0.5, 0.5]  # scores are right, just not cached
    assert not any(r.from_cache for r in results)


def test_tampered_row_is_never_served(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path)
    run_many([GOOD], config=FAST, cache=cache)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE results SET value = replace(value, 'false', 'true')")
    with pytest.warns(CacheUnavailableWarning):
        result = run_many([GOOD], config=FAST, cache=ResultCache(path))[0]
    assert result.pass_rate == 0.5 and not result.from_cache


def test_locked_database_degrades_instead_of_hanging(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    ResultCache(path).put("k", {"v": 1})
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # holds the lock: writers time out
    try:
        cache = ResultCache(path, busy_timeout_s=0.1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cache.put("k2", {"v": 2})
            cache.put("k3", {"v": 3})
        assert [w.category for w in caught] == [CacheUnavailableWarning]
        assert not cache.enabled
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_open_cache_follows_config(tmp_path: Path, monkeypatch):
    assert open_cache(HarnessConfig(cache=False)) is None
    explicit = open_cache(HarnessConfig(cache_path=str(tmp_path / "x.sqlite")))
    assert explicit.path == tmp_path / "x.sqlite" and explicit.enabled
    monkeypatch.setenv("CETD_CACHE", str(tmp_path / "envcache"))
    assert open_cache(HarnessConfig()).path == tmp_path / "envcache" / "harness.sqlite"


def test_a_result_without_coverage_is_not_served_to_a_coverage_job(tmp_path: Path):
    from cetd_lib.sandbox.results import RunJob

    cache = ResultCache(tmp_path / "c.sqlite")
    plain = run_many([GOOD], config=FAST, cache=cache)[0]
    measured = run_many([RunJob(*GOOD, coverage=True)], config=FAST, cache=cache)[0]
    again = run_many([RunJob(*GOOD, coverage=True)], config=FAST, cache=cache)[0]
    assert plain.coverage is None and not measured.from_cache
    assert again.from_cache and again.coverage == measured.coverage == {
        "m.py": {"statements": 2, "missing": 0}
    }
