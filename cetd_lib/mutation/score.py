"""Running mutants (and the variants) through the sandboxed harness: the kill rate.

A mutant is killed when a test that passes on the original fails, errors or times out on it;
kill rate = killed / (killed + survived), HARNESS_ERROR runs left out of both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cetd_lib.mutation.config import MutationConfig
from cetd_lib.mutation.mutants import Mutant
from cetd_lib.mutation.variants import SOURCE_COUPLED, equivalent_variants
from cetd_lib.sandbox.cache import ResultCache
from cetd_lib.sandbox.config import HarnessConfig

# ---------------------------------------------------------------------------------------------
# Running mutants through the sandbox
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationScore:
    """Outcome of one test suite against one module's mutants.

    `kill_rate` is killed / (killed + survived), 0.0 when the tests are unusable on the
    original (then `failure_class` says why, e.g. SYNTAX_ERROR, ASSERTION_FAILURE) or
    source-coupled (`SOURCE_COUPLED`: a test passing on the module fails on a
    behaviour-preserving variant of it), None when nothing could be measured (no mutants, or
    the harness failed on the original).
    """

    kill_rate: float | None
    killed: int = 0
    survived: int = 0
    errored: int = 0  # HARNESS_ERROR on the mutant: left out of the rate
    n_tests: int = 0  # tests passing on the original (the ones that can kill)
    failure_class: str | None = None
    detail: str = ""
    original_duration_s: float = 0.0
    status: dict[str, str] = field(default_factory=dict)  # mutant id -> killed|survived|errored
    killed_by_timeout: int = 0
    source_coupled: bool = False  # passes on the module, fails on a behaviour-preserving variant
    variants_checked: int = 0  # variants the suite ran on (harness errors left out)

    def __post_init__(self) -> None:
        # FailureClass is a str enum: keep the plain name so infos are JSON and compare as str.
        if self.failure_class is not None:
            object.__setattr__(
                self, "failure_class", str(getattr(self.failure_class, "value", self.failure_class))
            )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _unscreened(job: Any) -> Any:
    """Variants and mutants are our own rewrites of the original module (a variant may even
    `exec` a compressed copy of it): the screen is for model output, which the suite's run on
    the original has already passed."""
    import dataclasses

    return dataclasses.replace(job, original_code=True)


def mutant_timeout_s(original_duration_s: float, config: MutationConfig) -> float:
    """max(min_timeout_s, timeout_factor x duration), rounded up to whole seconds."""
    return float(math.ceil(max(config.min_timeout_s, config.timeout_factor * original_duration_s)))


def mutation_score(
    sources: Mapping[str, str],
    module: str,
    tests: Mapping[str, str],
    mutants: list[Mutant],
    config: MutationConfig | None = None,
    *,
    harness: HarnessConfig | None = None,
    cache: ResultCache | None = None,
) -> MutationScore:
    """Run `tests` on the original `sources`, then on every mutant of `module` (the other
    source files unchanged), all through `run_many`. See `MutationScore` for the result."""
    return mutation_scores(sources, module, [tests], mutants, config, harness=harness, cache=cache)[
        0
    ]


def mutation_scores(
    sources: Mapping[str, str],
    module: str,
    test_suites: list[Mapping[str, str]],
    mutants: list[Mutant],
    config: MutationConfig | None = None,
    *,
    harness: HarnessConfig | None = None,
    cache: ResultCache | None = None,
) -> list[MutationScore]:
    """`mutation_score` for several test suites of one module, batched: one `run_many` for the
    originals, one for every usable suite's behaviour-preserving variants and (suite, mutant)
    pairs, so the warm workers stay busy. A suite failing on a variant scores 0
    (source-coupled); its mutant runs are not counted."""
    from cetd_lib.sandbox.failures import EXCLUDED_FROM_SCORES, FailureClass
    from cetd_lib.sandbox.results import RunJob
    from cetd_lib.sandbox.runner import run_many

    config = config or MutationConfig()
    if module not in sources:
        raise KeyError(f"module {module!r} is not among the sources {sorted(sources)}")
    # The suites are screened like model output: a suite that reaches for inspect, gc or the
    # module's file fails here (REWARD_HACK_SUSPECT) and scores 0 before any mutant runs.
    originals = run_many(
        [
            RunJob(dict(sources), dict(t), generated_tests=True, original_code=True)
            for t in test_suites
        ],
        config=harness,
        cache=cache,
    )
    variants = (
        equivalent_variants(sources[module], module, config.equivalent_variants, config.seed)
        if config.equivalent_variants
        else []
    )
    scores: list[MutationScore | None] = [None] * len(test_suites)
    plan: list[tuple[int, Mutant, RunJob]] = []
    checks: list[tuple[int, int, RunJob]] = []  # (suite, variant index, job)
    for i, (tests, original) in enumerate(zip(test_suites, originals, strict=True)):
        if original.status == "harness_error" or original.harness_error:
            scores[i] = MutationScore(
                None, failure_class=FailureClass.HARNESS_ERROR, detail=original.detail
            )
            continue
        failing = [(k, o) for k, o in original.per_test.items() if not o.passed and o.failure_class]
        passing = tuple(k for k, o in original.per_test.items() if o.passed)
        if failing or not passing:
            test_id, outcome = failing[0] if failing else ("", None)
            scores[i] = MutationScore(
                0.0,
                failure_class=(outcome.failure_class if outcome else FailureClass.COLLECTION_ERROR),
                detail=(f"{test_id}: {outcome.detail}" if outcome else "no test passed/collected")[
                    :500
                ],
                original_duration_s=original.duration_s,
            )
            continue
        budget = mutant_timeout_s(original.duration_s, config)
        for v, variant in enumerate(variants):
            checks.append(
                (
                    i,
                    v,
                    _unscreened(RunJob({**sources, module: variant}, dict(tests), passing, budget)),
                )
            )
        for mutant in mutants:
            job_sources = {**sources, module: mutant.source}
            plan.append((i, mutant, _unscreened(RunJob(job_sources, dict(tests), passing, budget))))
    jobs = [job for *_, job in checks] + [job for *_, job in plan]
    ran = run_many(jobs, config=harness, cache=cache) if jobs else []
    coupled: dict[int, str] = {}
    checked: dict[int, int] = {}

    def judge(i: int, v: int, job: RunJob, result: Any, retry: list) -> None:
        if result.status == "harness_error":
            return  # the instrument failed, not the tests
        failed = [
            (test_id, result.per_test[test_id])
            for test_id in job.expected_tests or ()
            if not result.per_test[test_id].passed
            and result.per_test[test_id].failure_class not in EXCLUDED_FROM_SCORES
        ]
        if (
            failed
            and all(o.failure_class == FailureClass.TIMEOUT for _, o in failed)
            and (retry is not None)
        ):
            retry.append((i, v, job))  # load can push a slow suite over budget: run it again
            return
        checked[i] = checked.get(i, 0) + 1
        if failed and i not in coupled:
            test_id, outcome = failed[0]
            coupled[i] = (
                f"{test_id} passes on {module} but fails on behaviour-preserving variant "
                f"{v + 1} ({outcome.failure_class}: {outcome.detail})"
            )[:500]

    timed_out: list[tuple[int, int, RunJob]] = []
    for (i, v, job), result in zip(checks, ran[: len(checks)], strict=True):
        judge(i, v, job, result, timed_out)
    if timed_out:  # uncached, once: a second timeout is the suite's own doing
        again = run_many([job for *_, job in timed_out], config=harness, cache=None)
        for (i, v, job), result in zip(timed_out, again, strict=True):
            judge(i, v, job, result, None)
    for i, detail in coupled.items():
        scores[i] = MutationScore(
            0.0,
            failure_class=SOURCE_COUPLED,
            detail=detail,
            n_tests=sum(o.passed for o in originals[i].per_test.values()),
            original_duration_s=originals[i].duration_s,
            source_coupled=True,
            variants_checked=checked.get(i, 0),
        )
    results = ran[len(checks) :]

    per_suite: dict[int, dict[str, Any]] = {}
    for (i, mutant, job), result in zip(plan, results, strict=True):
        tally = per_suite.setdefault(
            i, {"status": {}, "killed": 0, "survived": 0, "errored": 0, "timeout": 0}
        )
        outcomes = [result.per_test[t] for t in job.expected_tests or ()]
        if result.status == "harness_error" or any(
            o.failure_class in EXCLUDED_FROM_SCORES for o in outcomes
        ):
            verdict = "errored"
        elif all(o.passed for o in outcomes):
            verdict = "survived"
        else:
            verdict = "killed"
            if result.status == "timeout" or any(
                o.failure_class == FailureClass.TIMEOUT for o in outcomes
            ):
                tally["timeout"] += 1
        tally[verdict] += 1
        tally["status"][mutant.id] = verdict
    for i, original in enumerate(originals):
        if scores[i] is not None:
            continue
        tally = per_suite.get(i, {"status": {}, "killed": 0, "survived": 0, "errored": 0})
        measured = tally["killed"] + tally["survived"]
        scores[i] = MutationScore(
            tally["killed"] / measured if measured else None,
            killed=tally["killed"],
            survived=tally["survived"],
            errored=tally["errored"],
            n_tests=sum(o.passed for o in original.per_test.values()),
            detail="" if measured else "no mutant could be measured",
            original_duration_s=original.duration_s,
            status=tally["status"],
            killed_by_timeout=tally.get("timeout", 0),
            variants_checked=checked.get(i, 0),
        )
    return [s for s in scores if s is not None]
