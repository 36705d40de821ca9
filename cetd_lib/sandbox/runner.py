"""The one runner for untrusted code: app sources + original tests in, per-test outcomes out.

Callers never start subprocesses themselves; they call `run_app_tests` or `run_many`.

How it runs (details and the sandbox's limits in docs/harness.md):
- the generated code (and generated tests) are screened statically first (screen.py);
- a pool of warm worker processes (`_worker.py`), one per core, each inside its own Linux
  namespaces (`_namespaces.py`; `HarnessConfig.sandbox`) with pytest imported and a pytest
  session prepared once;
- per app, the worker writes `src/` (generated modules) and `tests/` (original tests) into its
  private directory and forks a child: own process group, an unprivileged uid, rlimits (address
  space, CPU, file size, open files, processes), an audit hook (no network, no writes
  outside the sandbox, no process creation, no signals to other processes), per-test SIGALRM;
- the child records tagged events per test as they happen; the worker kills the child's
  process group at the end or at the wall-clock deadline, and empties the directory;
- `results.py` turns events into `TestOutcome`s with a `FailureClass` (failures.py) and
  cross-checks them with the child's exit status (REWARD_HACK_SUSPECT on a mismatch);
  `pool.py` starts, feeds and restarts the workers; this module screens, caches and dispatches.

Namespaces contain the code at the kernel level. Inside its process, the audit hook refuses the
code frames and tracing while it runs and owns the verdict channel, and the tests' comparisons
with builtin values follow builtin rules; docs/harness.md ("Verdicts") lists what that still
does not stop. Run untrusted models on a disposable machine.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cetd_lib.sandbox.cache import ResultCache, result_key
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.failures import (
    FailureClass,
)
from cetd_lib.sandbox.pool import SandboxPool, resolve_sandbox
from cetd_lib.sandbox.results import (
    RunJob,
    RunResult,
    align_to_expected,
    check_file_names,
    screened_result,
)
from cetd_lib.tracking.progress import progress_bar

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
            or sandbox_key(pool.config) != sandbox_key(config)
        ):
            if pool is not None and pool._pid == os.getpid():
                pool.close()
            _POOL = pool = SandboxPool(config, wanted)
        return pool


def sandbox_key(config: HarnessConfig) -> tuple:
    """The settings that decide how code runs (limits, sandbox mode, preload, bytecode cache):
    two configs with one key share a pool, and what one of them measured holds for the other."""
    limits = {k: v for k, v in config.sandbox_limits().items() if k != "screen"}
    return (tuple(sorted(limits.items())), config.preload_modules, config.bytecode_cache_path)


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
    cache: ResultCache | None = None,
    progress: str | None = None,
) -> list[RunResult]:
    """Run each job's tests against its sources; results in job order.

    `jobs`: `(sources, tests)` tuples, `(sources, tests, expected_test_ids)` or `RunJob`s.
    `cache`: a `cache.ResultCache` (None = no cache). Results with a TIMEOUT, RESOURCE_LIMIT
    or HARNESS_ERROR, or rerun because of load, are never cached: they can depend on machine
    load. A TIMEOUT/RESOURCE_LIMIT while the machine is loaded (`config.load_rerun_per_core`)
    is run once more (`RunResult.load_rerun` says so).
    With `config.screen`, a job whose code (or generated tests) the static screen refuses is
    not run: all its tests are REWARD_HACK_SUSPECT (screen.py).
    `progress`: the label of a tqdm bar over the runs not answered by the screen or cache.
    """
    config = config or HarnessConfig()
    prepared = [_as_job(job, timeout_s) for job in jobs]
    results: list[RunResult | None] = [None] * len(prepared)
    keys: list[str | None] = [None] * len(prepared)
    if config.screen:
        from cetd_lib.sandbox.screen import screen_job

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
        if progress:
            bar = progress_bar(None, desc=progress, total=len(raw_jobs))
            try:
                fresh = pool.run(raw_jobs, on_result=bar.update)
            finally:
                bar.close()
        else:
            fresh = pool.run(raw_jobs)
        fresh = _rerun_if_loaded(pool, raw_jobs, fresh, config)
        to_store = {}
        for i, result in zip(todo, fresh, strict=True):
            if cache is not None and _cacheable(result):
                to_store[keys[i]] = result.to_dict()
            expected = prepared[i].expected_tests
            results[i] = result if expected is None else align_to_expected(result, expected)
        if to_store:
            cache.put_many(to_store)
    return [r for r in results if r is not None]


# Outcomes that can depend on how loaded the machine was (a budget of time or of a resource).
_LOAD_DEPENDENT = frozenset({FailureClass.TIMEOUT, FailureClass.RESOURCE_LIMIT})


def _classes(result: RunResult) -> set:
    return {o.failure_class for o in result.per_test.values()} | {result.fate_class}


def _load_dependent(result: RunResult) -> bool:
    return result.status == "timeout" or bool(_classes(result) & _LOAD_DEPENDENT)


def load_per_core() -> float:
    """The 1-minute load average divided by the number of cores."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def _rerun_if_loaded(
    pool: SandboxPool, jobs: list[RunJob], results: list[RunResult], config: HarnessConfig
) -> list[RunResult]:
    """Run once more the jobs whose result may be the machine's fault (TIMEOUT,
    RESOURCE_LIMIT) when it is loaded; the second result stands, with the load in its detail."""
    suspects = [i for i, r in enumerate(results) if _load_dependent(r)]
    if not suspects:
        return results
    load = load_per_core()
    if load <= config.load_rerun_per_core:
        return results
    again = pool.run([jobs[i] for i in suspects])
    out = list(results)
    for i, second in zip(suspects, again, strict=True):
        first = results[i]
        classes = sorted(str(c) for c in _classes(first) & _LOAD_DEPENDENT)
        note = (
            f"rerun once: load {load:.2f} per core at the first run "
            f"(> {config.load_rerun_per_core:g}), which ended {first.status} with "
            + ", ".join(classes)
        )
        out[i] = replace(second, detail=f"{second.detail} [{note}]".strip(), load_rerun=note)
    return out


def _cacheable(result: RunResult) -> bool:
    classes = {o.failure_class for o in result.per_test.values()}
    return (
        result.status != "harness_error"
        and not result.load_rerun
        and not _load_dependent(result)
        and FailureClass.HARNESS_ERROR not in classes
    )


def run_app_tests(
    sources: Mapping[str, str],
    tests: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    expected_tests: Iterable[str] | None = None,
    config: HarnessConfig | None = None,
    cache: ResultCache | None = None,
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
