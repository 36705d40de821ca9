"""The orchestra loop: requirements -> prompts -> completions -> files -> original tests -> scores.

    result = reconstruct(apps, OrchestraConfig(members=(BackendSpec("oracle", "oracle"),)))
    result.score.mean   # 1.0 for the oracle, 0.0 for the null backend

Only tests that pass on the ORIGINAL code count ("gold tests"): they are computed once per app
content hash (memoised in-process, and cached on disk by the runner's cache like any run).
`reward_pass_rates` is the same measurement shaped as a TRL reward function.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cetd_lib.apps.app import App
from cetd_lib.reconstruction.backends import Backend, BackendError, generate_or_none, make_backend
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.reconstruction.parsing import parse_files
from cetd_lib.reconstruction.prompts import PROMPT_VERSION, Prompt, build_prompt
from cetd_lib.reconstruction.score import (
    OrchestraScore,
    SampleScore,
    sample_score,
    score_app,
    score_orchestra,
)
from cetd_lib.sandbox.cache import ResultCache, open_cache
from cetd_lib.sandbox.config import HARNESS_VERSION, HarnessConfig
from cetd_lib.sandbox.failures import FailureClass
from cetd_lib.sandbox.results import RunJob, RunResult, TestOutcome
from cetd_lib.sandbox.runner import run_many, sandbox_key

log = logging.getLogger(__name__)

_FROM_CONFIG = "config"


# ---------------------------------------------------------------------------------------------
# Gold tests: what the original code passes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldTests:
    """Tests of one app that pass on its original code: the only ones that are scored."""

    app_id: str
    content_hash: str
    passing: tuple[str, ...]
    failing: tuple[str, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "content_hash": self.content_hash,
            "passing": list(self.passing),
            "failing": list(self.failing),
            "detail": self.detail,
        }


_GOLD_MEMO: dict[tuple[str, tuple], GoldTests] = {}


def gold_tests(
    apps: Sequence[App],
    *,
    config: HarnessConfig | None = None,
    cache: ResultCache | Literal["config"] | None = _FROM_CONFIG,
) -> dict[str, GoldTests]:
    """app_id -> GoldTests, running each app's original code at most once per content hash."""
    config = config or HarnessConfig()
    if cache == _FROM_CONFIG:
        cache = open_cache(config)
    key = sandbox_key(config)
    todo = [a for a in apps if (a.content_hash(), key) not in _GOLD_MEMO]
    if todo:
        # The apps' own code is not screened (the screen is for generated code; it has no
        # false positive on the bundled apps, but user apps may use e.g. `signal`).
        jobs = [RunJob(a.sources, a.tests, original_code=True) for a in todo]
        results = run_many(jobs, config=config, cache=cache)
        for app, result in zip(todo, results, strict=True):
            if result.harness_error:
                # Not memoised: the next call tries again.
                log.error(
                    "HARNESS_ERROR while running the original code of %s: %s",
                    app.app_id,
                    result.detail,
                )
                continue
            passing = tuple(k for k, o in result.per_test.items() if o.passed)
            failing = tuple(k for k, o in result.per_test.items() if not o.passed)
            if failing:
                log.warning(
                    "%s: %d of its own tests fail on the original code and are not scored: %s",
                    app.app_id,
                    len(failing),
                    ", ".join(failing[:5]),
                )
            _GOLD_MEMO[(app.content_hash(), key)] = GoldTests(
                app.app_id, app.content_hash(), passing, failing, result.detail
            )
    out = {}
    for app in apps:
        gold = _GOLD_MEMO.get((app.content_hash(), key))
        if gold is not None:
            out[app.app_id] = gold
    return out


# ---------------------------------------------------------------------------------------------
# Records and results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconstructionRecord:
    """One sample: what the model wrote, what was run, how it scored."""

    app_id: str
    member: str
    sample: int
    completion: str
    files: dict[str, str]
    score: SampleScore
    run: RunResult | None = None  # None when nothing ran (no requirements, no code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "member": self.member,
            "sample": self.sample,
            "completion": self.completion,
            "files": self.files,
            "score": self.score.to_dict(),
            "run": self.run.to_dict() if self.run is not None else None,
        }


@dataclass(frozen=True)
class ReconstructionResult:
    records: tuple[ReconstructionRecord, ...]
    score: OrchestraScore
    gold: dict[str, GoldTests]
    excluded_apps: dict[str, str] = field(default_factory=dict)  # app_id -> reason
    prompt_version: str = PROMPT_VERSION
    harness_version: str = HARNESS_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_version": self.prompt_version,
            "harness_version": self.harness_version,
            "score": self.score.to_dict(),
            "excluded_apps": dict(self.excluded_apps),
            "gold": {k: v.to_dict() for k, v in self.gold.items()},
            "records": [r.to_dict() for r in self.records],
        }


def _not_run(tests: Sequence[str], cls: FailureClass, detail: str) -> dict[str, TestOutcome]:
    return {t: TestOutcome(False, cls, "not_run", detail) for t in tests}


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


def reconstruct(
    apps: Sequence[App],
    orchestra: OrchestraConfig | None = None,
    harness: HarnessConfig | None = None,
    *,
    requirements: Mapping[str, Sequence[str]] | None = None,
    backends: Mapping[str, Backend] | None = None,
    cache: ResultCache | Literal["config"] | None = _FROM_CONFIG,
) -> ReconstructionResult:
    """Rebuild every app with every orchestra member and score it on the app's gold tests.

    `requirements`: app_id -> items to rebuild from (default: each app's gold requirements);
    an app with no items gets NO_REQUIREMENTS. `backends`: member name -> ready backend (e.g. a
    model already loaded); other members are built from their BackendSpec.
    """
    orchestra = orchestra or OrchestraConfig()
    harness = harness or HarnessConfig()
    if cache == _FROM_CONFIG:
        cache = open_cache(harness)
    members = [m.name for m in orchestra.members]
    gold = gold_tests(apps, config=harness, cache=cache)
    excluded: dict[str, str] = {}
    scoreable: list[App] = []
    for app in apps:
        if app.app_id not in gold:
            excluded[app.app_id] = "harness error while running the original code"
        elif not gold[app.app_id].passing:
            excluded[app.app_id] = "no test passes on the original code"
        else:
            scoreable.append(app)
    for app_id, reason in excluded.items():
        log.error("app %s is not scored: %s", app_id, reason)

    prompts: list[Prompt] = []
    for app in scoreable:
        items = app.requirements if requirements is None else requirements.get(app.app_id, ())
        prompts.append(build_prompt(app, list(items), orchestra.prompt_version))
    with_items = [p for p in prompts if _has_items(p, requirements)]

    records: list[ReconstructionRecord] = []
    jobs: list[RunJob] = []
    pending: list[tuple[App, str, int, str, dict[str, str]]] = []
    by_id = {app.app_id: app for app in scoreable}
    for spec in orchestra.members:
        backend = (backends or {}).get(spec.name) or make_backend(spec)
        completions = (
            generate_or_none(
                backend,
                with_items,
                n=orchestra.n_samples,
                temperature=orchestra.temperature,
                max_new_tokens=orchestra.max_new_tokens,
                seed=orchestra.seed,
                top_p=orchestra.top_p,
            )
            if with_items
            else []
        )
        generation_failed = completions is None
        if completions is not None:
            _check_shape(spec.name, completions, len(with_items), orchestra.n_samples)
        by_app = {p.app_id: c for p, c in zip(with_items, completions or [], strict=False)}
        for prompt in prompts:
            app = by_id[prompt.app_id]
            tests = gold[app.app_id].passing
            for sample in range(orchestra.n_samples):
                unmeasured = None
                if generation_failed and _has_items(prompt, requirements):
                    unmeasured = (
                        FailureClass.HARNESS_ERROR,
                        f"member {spec.name} failed to generate (see the log)",
                        f"member {spec.name} failed to generate (see the log)",
                    )
                elif prompt.app_id not in by_app:
                    unmeasured = (
                        FailureClass.NO_REQUIREMENTS,
                        "no requirements to rebuild from",
                        "no requirements",
                    )
                if unmeasured is not None:
                    failure, why, detail = unmeasured
                    outcome = _not_run(tests, failure, why)
                    records.append(
                        ReconstructionRecord(
                            app.app_id,
                            spec.name,
                            sample,
                            "",
                            {},
                            sample_score(app.app_id, spec.name, sample, outcome, detail=detail),
                        )
                    )
                    continue
                text = by_app[prompt.app_id][sample]
                parsed = parse_files(text, app.module_names)
                if not parsed.ok:
                    outcome = _not_run(tests, FailureClass.EMPTY_GENERATION, parsed.detail)
                    records.append(
                        ReconstructionRecord(
                            app.app_id,
                            spec.name,
                            sample,
                            text,
                            {},
                            sample_score(
                                app.app_id, spec.name, sample, outcome, detail=parsed.detail
                            ),
                        )
                    )
                    continue
                jobs.append(RunJob(parsed.files, app.tests, expected_tests=tests))
                pending.append((app, spec.name, sample, text, parsed.files))

    results = run_many(jobs, config=harness, cache=cache, progress="rebuild tests") if jobs else []
    for (app, member, sample, text, files), result in zip(pending, results, strict=True):
        records.append(
            ReconstructionRecord(
                app.app_id,
                member,
                sample,
                text,
                files,
                sample_score(app.app_id, member, sample, result.per_test, detail=result.detail),
                result,
            )
        )
    records.sort(key=lambda r: (r.app_id, members.index(r.member), r.sample))

    app_scores = []
    for app in scoreable:
        samples = [r.score for r in records if r.app_id == app.app_id]
        app_scores.append(
            score_app(
                app.app_id, len(gold[app.app_id].passing), samples, members, orchestra.k_values
            )
        )
    return ReconstructionResult(
        records=tuple(records),
        score=score_orchestra(app_scores, members),
        gold=gold,
        excluded_apps=excluded,
        prompt_version=orchestra.prompt_version,
    )


def _has_items(prompt: Prompt, requirements: Mapping[str, Sequence[str]] | None) -> bool:
    if requirements is None:
        return bool(prompt.reference_app and prompt.reference_app.requirements)
    return bool(requirements.get(prompt.app_id))


def _check_shape(member: str, completions: list[list[str]], n_prompts: int, n: int) -> None:
    if len(completions) != n_prompts or any(len(c) != n for c in completions):
        raise BackendError(
            f"backend {member!r} returned {len(completions)} prompt(s) x "
            f"{[len(c) for c in completions][:5]} samples; expected {n_prompts} x {n}"
        )


# ---------------------------------------------------------------------------------------------
# The same measurement as a reward function
# ---------------------------------------------------------------------------------------------


def reward_pass_rates(
    apps: Sequence[App],
    completions: Sequence[str],
    *,
    config: HarnessConfig | None = None,
    cache: ResultCache | Literal["config"] | None = _FROM_CONFIG,
) -> list[float | None]:
    """Pass rate of each completion on its app's gold tests (TRL reward shape).

    `apps[i]` is the app `completions[i]` rebuilds. Unusable output scores 0.0; None means the
    harness failed (not applicable, per TRL's convention), never a made-up number.

    >>> from cetd_lib.apps.app import App
    >>> app = App("one", {"m.py": "def f():\\n    return 1\\n"},
    ...           {"test_m.py": "from m import f\\ndef test_f():\\n    assert f() == 1\\n"}, ("f",))
    >>> reward_pass_rates([app, app], ["```python\\ndef f():\\n    return 1\\n```", ""], cache=None)
    [1.0, 0.0]
    """
    if len(apps) != len(completions):
        raise ValueError(
            f"reward_pass_rates: {len(apps)} apps but {len(completions)} "
            "completions; pass one app per completion"
        )
    config = config or HarnessConfig()
    if cache == _FROM_CONFIG:
        cache = open_cache(config)
    gold = gold_tests(list({a.app_id: a for a in apps}.values()), config=config, cache=cache)
    rewards: list[float | None] = [None] * len(apps)
    jobs, slots = [], []
    for i, (app, text) in enumerate(zip(apps, completions, strict=True)):
        tests = gold.get(app.app_id)
        if tests is None or not tests.passing:
            continue  # nothing measurable: None
        parsed = parse_files(text, app.module_names)
        if not parsed.ok:
            rewards[i] = 0.0
            continue
        jobs.append(RunJob(parsed.files, app.tests, expected_tests=tests.passing))
        slots.append(i)
    for i, result in zip(slots, run_many(jobs, config=config, cache=cache), strict=True):
        rewards[i] = None if result.harness_error else result.pass_rate
    return rewards
