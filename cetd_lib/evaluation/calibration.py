"""Orchestra calibration: can this orchestra tell good requirements from bad ones?

Before a reconstruction pass rate is used as a reward or a metric, measure whether it moves
with the quality of the requirements at all. On the same apps, each orchestra member rebuilds
the code from a *ladder* of requirement sources whose quality is known by construction:

    gold > gold with 25/50/75% of the items dropped > gold of another app / no items

plus two bounds from the harness's calibration backends (`oracle` = the original source,
`null` = nothing). Per member and app family the pass rates are compared per app (paired
bootstrap), the signal `gold - gold_shuffled` gets a CI and a power analysis (apps needed to
detect a 5-point difference), and a verdict: "carries signal" or "flat".

The rungs are registered requirement sources (`phase2.register_source`) and ablation
sources, so `ablation.sources: [gold, gold_drop50, gold_shuffled]` works by name.

This module does not run generated code: every rebuild goes through `harness.reconstruct`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from cetd_lib.apps.app import App
from cetd_lib.config_field import help_field
from cetd_lib.evaluation.ablation import (
    ABLATION_SOURCES,
    AblationSource,
    register_ablation_source,
    wilcoxon_test,
)
from cetd_lib.evaluation.phase2 import REQUIREMENT_SOURCES, SourceContext, register_source

log = logging.getLogger(__name__)

CARRIES_SIGNAL = "carries signal"
FLAT = "flat: a reward here would be noise"
# Seed of the registered rungs when a caller passes a plain SourceContext (ablation, phase 2).
DEFAULT_LADDER_SEED = 0

Family = Literal["bundled", "humaneval", "holdout", "apps_dir"]


# ---------------------------------------------------------------------------------------------
# Requirement transforms (pure)
# ---------------------------------------------------------------------------------------------


def app_rng(seed: int, app_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, app id): an app's draws do not change when
    other apps join or leave the evaluated set."""
    return np.random.default_rng([seed, zlib.crc32(app_id.encode())])


def keep_count(n_items: int, fraction: float) -> int:
    """Items kept when `fraction` of `n_items` is dropped: round half up, at least one (an
    empty list is never rebuilt by the harness, which would turn the rung into `null`).

    >>> [keep_count(8, f) for f in (0.25, 0.5, 0.75)], keep_count(5, 0.5), keep_count(2, 0.75)
    ([6, 4, 2], 2, 1)
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"drop fraction {fraction} must lie in [0, 1)")
    if n_items == 0:
        return 0
    return max(1, n_items - math.floor(n_items * fraction + 0.5))


def drop_items(items: Sequence[str], fraction: float, rng: np.random.Generator) -> list[str]:
    """`items` with `fraction` of them dropped, the rest in their original order.

    The kept items are a prefix of one permutation drawn from `rng`, so with the same generator
    state the rungs nest: what survives 75% dropped also survives 50% and 25%.
    """
    order = rng.permutation(len(items))
    kept = sorted(order[: keep_count(len(items), fraction)])
    return [items[i] for i in kept]


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A uniformly drawn permutation of range(n) with no fixed point (rejection sampling:
    about e draws on average, Montmort 1713).

    >>> d = derangement(5, np.random.default_rng(0)); sorted(d) == list(range(5))
    True
    >>> any(i == j for i, j in enumerate(d))
    False
    """
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 apps, got {n}")
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(i) for i in perm]


def dose(items: Sequence[str], app: App) -> float:
    """Share of the app's own gold items present in `items` (1 for gold, 0 for another app's)."""
    own = set(app.requirements)
    return sum(item in own for item in set(items)) / len(own) if own else float("nan")


def no_item_requirements(app: App) -> list[str]:
    """One item per module naming it: what the prompt says anyway, nothing about behaviour.
    Not empty, because the harness never asks a model to rebuild from an empty list."""
    return [f"Implements the module `{name}`." for name in app.module_names]


# ---------------------------------------------------------------------------------------------
# The ladder: registered requirement sources and the harness bounds
# ---------------------------------------------------------------------------------------------


@dataclass
class LadderContext(SourceContext):
    """A SourceContext carrying the seed of the dropped-item and derangement draws."""

    seed: int = DEFAULT_LADDER_SEED


def _seed(ctx: SourceContext) -> int:
    return ctx.seed if isinstance(ctx, LadderContext) else DEFAULT_LADDER_SEED


@dataclass(frozen=True)
class Rung:
    """One rung. `kind` "source": a registered requirement source rebuilt by each member;
    "bound": `<kind>_backend`, a harness calibration backend (`oracle`/`null`) on gold, once
    per family.
    `dose`: nominal share of the app's own gold items (None for bounds)."""

    name: str
    kind: Literal["source", "bound"]
    dose: float | None
    description: str


RUNGS: dict[str, Rung] = {}


def _register_rung(rung: Rung) -> Rung:
    if rung.kind == "source":
        register_ablation_source(
            AblationSource(rung.name, "requirements", rung.description, rung.name)
        )
    RUNGS[rung.name] = rung
    return rung


def drop_rung_name(fraction: float) -> str:
    """`gold_drop25` for 0.25; rejects fractions that do not map to a whole percent."""
    pct = round(fraction * 100)
    if not 0 < fraction < 1 or abs(pct - fraction * 100) > 1e-9:
        raise ValueError(f"drop fraction {fraction}: expected a whole percent in (0, 1)")
    return f"gold_drop{pct}"


def register_drop_rung(fraction: float) -> Rung:
    """Register `gold_drop<pct>` (requirement source, ablation source, rung); idempotent."""
    name = drop_rung_name(fraction)
    if name in RUNGS:
        return RUNGS[name]

    def source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
        seed = _seed(ctx)
        return {
            app.app_id: drop_items(app.requirements, fraction, app_rng(seed, app.app_id))
            for app in apps
        }

    source.__doc__ = f"Gold with {fraction:.0%} of its items dropped (seeded per app, nested)."
    register_source(name)(source)
    return _register_rung(
        Rung(name, "source", 1 - fraction, f"gold with {fraction:.0%} of the items dropped")
    )


@register_source("gold_shuffled")
def shuffled_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """Gold of another app of the same set (a seeded derangement: no app gets its own)."""
    ordered = sorted(apps, key=lambda a: a.app_id)
    perm = derangement(len(ordered), np.random.default_rng([_seed(ctx), 0xD3]))
    return {app.app_id: list(ordered[j].requirements) for app, j in zip(ordered, perm, strict=True)}


@register_source("no_items")
def no_items_source(apps: Sequence[App], ctx: SourceContext) -> dict[str, list[str]]:
    """Module names only (`no_item_requirements`)."""
    return {app.app_id: no_item_requirements(app) for app in apps}


DEFAULT_DROP_FRACTIONS = (0.25, 0.5, 0.75)
RUNGS["gold"] = Rung("gold", "source", 1.0, "gold requirements")  # gold is registered already
for _fraction in DEFAULT_DROP_FRACTIONS:
    register_drop_rung(_fraction)
_register_rung(Rung("gold_shuffled", "source", 0.0, "gold of another app (derangement)"))
_register_rung(Rung("no_items", "source", 0.0, "no items: module names only"))
# Bound rungs are named <backend kind>_backend: a bare `null` would read as None in YAML.
RUNGS["oracle_backend"] = Rung(
    "oracle_backend", "bound", None, "oracle backend: the original source"
)
RUNGS["null_backend"] = Rung("null_backend", "bound", None, "null backend: an empty answer")
assert all(r.kind == "bound" or r.name in REQUIREMENT_SOURCES for r in RUNGS.values())
assert all(r.kind == "bound" or r.name in ABLATION_SOURCES for r in RUNGS.values())

DROP_PLACEHOLDER = "gold_drop"  # in `rungs`: one rung per `drop_fractions` entry
DEFAULT_RUNGS = (
    "gold",
    DROP_PLACEHOLDER,
    "gold_shuffled",
    "no_items",
    "oracle_backend",
    "null_backend",
)


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationConfig:
    """notebooks/calibration.ipynb: the ladder, the sampling and the statistics."""

    families: tuple[Family, ...] = help_field(
        "App families: 'bundled' (the 40 apps), 'humaneval' (HumanEval-as-apps), 'holdout' "
        "(holdout/ of data.apps_dir or of the bundled corpus), 'apps_dir' (data.apps_dir).",
        default=("bundled", "humaneval"),
    )
    rungs: tuple[str, ...] = help_field(
        "Rungs of the ladder (calibration.RUNGS); 'gold_drop' stands for one rung per "
        "drop_fractions entry. 'gold' and 'gold_shuffled' are required: the verdict needs them.",
        default=DEFAULT_RUNGS,
    )
    drop_fractions: tuple[float, ...] = help_field(
        "Shares of the gold items dropped (seeded per app, nested), each a whole percent.",
        default=DEFAULT_DROP_FRACTIONS,
    )
    n_apps: int | None = help_field(
        "Apps per family: a seeded sample of this many (None = every app of the family).",
        default=None,
    )
    n_samples: int = help_field(
        "Rebuilds per app, rung and member; pass@k needs n >= k (4 or more for pass@k).",
        default=4,
    )
    temperature: float = help_field(
        "Sampling temperature of the rebuilds (> 0 when n_samples > 1).", default=0.8
    )
    k_values: tuple[int, ...] = help_field(
        "pass@k reported per rung (unbiased estimator, Chen et al. 2021), each k <= n_samples.",
        default=(1, 4),
    )
    n_resamples: int = help_field(
        "Paired bootstrap resamples over apps for every CI.", default=2000
    )
    confidence: float = help_field(
        "Confidence of the CIs; 1 - confidence is the alpha of the power analysis.",
        default=0.95,
    )
    seed: int = help_field(
        "Seeds the app sample, the dropped items, the derangement and the bootstrap.", default=0
    )
    effect_size: float = help_field(
        "Difference in mean pass rate (gold - shuffled) the power analysis is for: 0.05 = 5 "
        "points.",
        default=0.05,
    )
    power: float = help_field("Power wanted for that difference (paired t-test).", default=0.8)

    def __post_init__(self) -> None:
        if not self.families or len(set(self.families)) != len(self.families):
            raise ValueError(f"calibration.families={list(self.families)}: list each once, >= 1")
        for name in self.rungs:
            if name != DROP_PLACEHOLDER and name not in RUNGS:
                close = difflib.get_close_matches(name, [*RUNGS, DROP_PLACEHOLDER], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"calibration.rungs: unknown rung {name!r}{hint}; known: "
                    f"{[*RUNGS, DROP_PLACEHOLDER]}"
                )
        for needed in ("gold", "gold_shuffled"):
            if needed not in self.rungs:
                raise ValueError(
                    f"calibration.rungs lacks {needed!r}: the signal is gold - gold_shuffled"
                )
        for fraction in self.drop_fractions:
            drop_rung_name(fraction)  # raises with the expected form
        if self.n_apps is not None and self.n_apps < 2:
            raise ValueError(f"calibration.n_apps={self.n_apps}: the shuffled rung needs >= 2 apps")
        if self.n_samples < 1:
            raise ValueError(f"calibration.n_samples must be >= 1, got {self.n_samples}")
        if self.n_samples > 1 and self.temperature <= 0:
            raise ValueError(
                "calibration.n_samples > 1 needs temperature > 0 (greedy samples are identical)"
            )
        bad_k = [k for k in self.k_values if not 1 <= k <= self.n_samples]
        if bad_k:
            raise ValueError(
                f"calibration.k_values {bad_k}: each k must lie in [1, n_samples={self.n_samples}]"
            )
        if self.n_resamples < 100:
            raise ValueError(f"calibration.n_resamples={self.n_resamples}: use at least 100")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"calibration.confidence={self.confidence} must lie in [0.5, 1)")
        if not 0 < self.effect_size <= 1:
            raise ValueError(f"calibration.effect_size={self.effect_size} must lie in (0, 1]")
        if not 0 < self.power < 1:
            raise ValueError(f"calibration.power={self.power} must lie in (0, 1)")

    @property
    def ladder(self) -> tuple[str, ...]:
        """The rungs with 'gold_drop' expanded, registering any new drop fraction."""
        out: list[str] = []
        for name in self.rungs:
            if name == DROP_PLACEHOLDER:
                out += [register_drop_rung(f).name for f in self.drop_fractions]
            elif name not in out:
                out.append(name)
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------------


def load_family(family: str, apps_dir: str | None, n_apps: int | None, seed: int) -> list[App]:
    """The apps of `family` (a seeded sample of `n_apps`, sorted by id)."""
    from cetd_lib.apps.app import load_apps

    if family == "bundled":
        apps = load_apps(None)
    elif family == "humaneval":
        from cetd_lib.apps.humaneval import load_humaneval_apps

        apps = load_humaneval_apps()
    elif family == "holdout":
        apps = load_apps(apps_dir, holdout_only=True)
    elif family == "apps_dir":
        if not apps_dir:
            raise ValueError(
                "calibration.families has 'apps_dir' but data.apps_dir is empty: set "
                "data.apps_dir to a folder of apps (docs/apps.md) or drop the family"
            )
        apps = load_apps(apps_dir)
    else:
        raise ValueError(f"unknown app family {family!r}; expected one of {Family.__args__}")
    if len(apps) < 2:
        where = apps_dir or "the bundled corpus"
        raise ValueError(
            f"app family {family!r} ({where}) has {len(apps)} app(s); the shuffled rung "
            "needs at least 2"
        )
    if n_apps is not None and n_apps < len(apps):
        rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
        picked = rng.choice(len(apps), size=n_apps, replace=False)
        apps = sorted((apps[i] for i in picked), key=lambda a: a.app_id)
    return apps


# ---------------------------------------------------------------------------------------------
# Measuring a rung through the harness
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RungMeasurement:
    """One rung on one family: per member, per app pass rate and pass@k."""

    rung: str
    family: str
    pass_rates: dict[str, dict[str, float]]  # member -> app_id -> mean over samples
    pass_at_k: dict[str, dict[str, dict[str, float]]]  # member -> app_id -> "pass@k" -> value
    doses: dict[str, float]  # app_id -> realised share of own gold items (sources)
    excluded_apps: dict[str, str]  # app_id -> why the harness could not score it
    seconds: float


def sampling_orchestra(orchestra: Any, config: CalibrationConfig) -> Any:
    """The orchestra with the calibration's sampling (n_samples, temperature, k_values)."""
    return dataclasses.replace(
        orchestra,
        n_samples=config.n_samples,
        temperature=config.temperature,
        k_values=tuple(config.k_values),
    )


def measure_rung(
    rung: str,
    family: str,
    apps: Sequence[App],
    *,
    orchestra: Any,
    harness: Any,
    backends: Mapping[str, Any] | None = None,
    seed: int = DEFAULT_LADDER_SEED,
) -> RungMeasurement:
    """Rebuild `apps` from the rung's requirements (or with the bound's backend) and score them
    on their original tests; nothing here runs generated code but `reconstruct`."""
    from cetd_lib.evaluation.phase2 import requirements_from
    from cetd_lib.harness.config import BackendSpec
    from cetd_lib.harness.reconstruct import reconstruct

    spec = RUNGS[rung]
    start = time.perf_counter()
    if spec.kind == "bound":
        bound = dataclasses.replace(
            orchestra,
            members=(BackendSpec(name=rung, kind=rung.removesuffix("_backend")),),
            n_samples=1,
            k_values=(1,),
        )
        result = reconstruct(apps, bound, harness)
        doses: dict[str, float] = {}
    else:
        requirements = requirements_from(rung, apps, LadderContext(seed=seed))
        result = reconstruct(apps, orchestra, harness, requirements=requirements, backends=backends)
        doses = {app.app_id: dose(requirements[app.app_id], app) for app in apps}
    members = list(result.score.members)
    return RungMeasurement(
        rung=rung,
        family=family,
        pass_rates={
            m: {a.app_id: a.member_pass_rate[m] for a in result.score.apps} for m in members
        },
        pass_at_k={m: {a.app_id: dict(a.pass_at_k[m]) for a in result.score.apps} for m in members},
        doses=doses,
        excluded_apps=dict(result.excluded_apps),
        seconds=time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------------------------
# Statistics (pure functions)
# ---------------------------------------------------------------------------------------------


def paired_bootstrap_means(
    matrix: np.ndarray, *, n_resamples: int = 2000, seed: int = 0
) -> np.ndarray:
    """Resampled column means of `matrix` (apps x conditions): every resample draws one set
    of apps with replacement and applies it to every condition, so differences between columns
    keep the per-app pairing (Efron & Tibshirani 1993, ch. 13). Shape (n_resamples, conditions).
    """
    data = np.asarray(matrix, float)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"paired bootstrap needs an apps x conditions matrix, got {data.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.shape[0], size=(n_resamples, data.shape[0]))
    return data[idx].mean(axis=1)


def percentile_ci(resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    return float(np.quantile(resampled, alpha)), float(np.quantile(resampled, 1 - alpha))


def apps_needed(
    sd_difference: float, effect_size: float, *, alpha: float = 0.05, power: float = 0.8
) -> tuple[int | None, str]:
    """Apps for a two-sided paired t-test to detect `effect_size` at `power`, given the SD of
    the per-app differences (Cohen's d = effect_size / sd; statsmodels TTestPower).

    Small n (2-10) are scanned first: statsmodels' noncentral t returns NaN at extreme effects,
    and such n are skipped, so a huge effect may be reported an app or two above its true need.
    (None, why) when the SD is 0 or undefined, or the solver fails.

    >>> apps_needed(0.25, 0.05)[0]  # d = 0.2: the textbook 199
    199
    """
    from statsmodels.stats.power import TTestPower

    if not math.isfinite(sd_difference):
        return None, "the SD of the per-app differences is not defined (fewer than 2 apps)"
    if sd_difference == 0:
        return None, "every app has the same difference (SD 0): the t-test power is undefined"
    d = effect_size / sd_difference
    analysis = TTestPower()
    note = f"d = {d:.3f} (paired t-test, two-sided, alpha {alpha:g}, power {power:g})"
    for n in range(2, 11):
        if analysis.power(effect_size=d, nobs=n, alpha=alpha, alternative="two-sided") >= power:
            return n, note
    n = analysis.solve_power(effect_size=d, alpha=alpha, power=power, alternative="two-sided")
    if n is None or not math.isfinite(float(n)):
        return None, f"d = {d:.3g}: the power solver did not converge"
    return int(math.ceil(float(n))), note


@dataclass(frozen=True)
class RungSummary:
    rung: str
    kind: str
    dose: float | None  # nominal
    realised_dose: float | None  # mean over apps of the share of own gold items in the list
    mean: float
    ci_low: float
    ci_high: float
    n_apps: int
    pass_at_k: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """Paired difference mean(a) - mean(b) over the same apps, with its bootstrap CI."""

    a: str
    b: str
    mean: float
    ci_low: float
    ci_high: float
    sd: float  # SD (ddof 1) of the per-app differences

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def reversed(self) -> bool:
        """b (the lower dose) is better than a with the CI entirely below 0."""
        return self.ci_high < 0


@dataclass(frozen=True)
class Signal:
    difference: Difference  # gold - gold_shuffled
    p_value: float  # Wilcoxon signed-rank, two-sided, zero differences dropped; NaN: all tied
    n_apps: int
    effect_size: float
    power: float
    apps_needed: int | None
    apps_needed_note: str


@dataclass(frozen=True)
class Calibration:
    """One member on one family: the ladder, the signal and the verdict."""

    member: str
    family: str
    app_ids: tuple[str, ...]  # apps scored under every source rung (the paired set)
    dropped_apps: tuple[str, ...]  # scored by the harness but NaN under some rung
    rungs: dict[str, RungSummary]
    steps: tuple[Difference, ...]  # adjacent dose levels, higher dose first
    signal: Signal
    monotone: bool
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["signal"]["difference"]["excludes_zero"] = self.signal.difference.excludes_zero
        for step, raw in zip(self.steps, data["steps"], strict=True):
            raw["reversed"] = step.reversed
        return data


def dose_steps(rungs: Mapping[str, float]) -> list[tuple[str, str]]:
    """Pairs (higher-dose rung, lower-dose rung) between adjacent dose levels; rungs with the
    same dose are not compared with each other.

    >>> dose_steps({"gold": 1.0, "gold_drop50": 0.5, "gold_shuffled": 0.0, "no_items": 0.0})
    [('gold', 'gold_drop50'), ('gold_drop50', 'gold_shuffled'), ('gold_drop50', 'no_items')]
    """
    levels = sorted({round(d, 6) for d in rungs.values()}, reverse=True)
    by_level = [[n for n, d in rungs.items() if round(d, 6) == lv] for lv in levels]
    return [
        (hi, lo)
        for upper, lower in zip(by_level, by_level[1:], strict=False)
        for hi in upper
        for lo in lower
    ]


def verdict_for(
    signal: Difference, p_value: float, steps: Sequence[Difference], alpha: float = 0.05
) -> tuple[str, bool, str]:
    """(verdict, monotone, reason). "carries signal" iff the paired bootstrap CI of
    gold - shuffled lies above 0, the Wilcoxon signed-rank test of the same differences has
    p < alpha (the percentile bootstrap is too narrow on a handful of apps: 3 of 5 apps better
    and 2 tied gives a CI above 0 but p = 0.25), AND the ladder is monotone-ish: no step from a
    higher to the next lower dose is reversed with its CI entirely below 0 (noise may tie
    neighbours; it may not invert them)."""
    reversed_steps = [s for s in steps if s.reversed]
    monotone = not reversed_steps
    ci = f"[{signal.ci_low:+.3f}, {signal.ci_high:+.3f}]"
    if not signal.ci_low > 0:
        return FLAT, monotone, f"CI of gold - shuffled {ci} does not lie above 0"
    if not p_value < alpha:  # NaN (every app tied) is not significant either
        return (
            FLAT,
            monotone,
            (
                f"CI of gold - shuffled {ci} > 0, but the Wilcoxon p = {p_value:.3g} is not below "
                f"{alpha:g} (too few apps with a difference)"
            ),
        )
    if not monotone:
        names = ", ".join(f"{s.b} > {s.a}" for s in reversed_steps)
        return FLAT, monotone, f"gold - shuffled {ci} > 0, but the ladder inverts: {names}"
    return CARRIES_SIGNAL, monotone, f"CI of gold - shuffled {ci} > 0 and no step inverts"


def calibrate(
    member: str,
    family: str,
    measurements: Mapping[str, RungMeasurement],
    *,
    config: CalibrationConfig,
) -> Calibration:
    """Summarise one member's ladder on one family (paired over apps scored on every rung)."""
    sources = [r for r in measurements if RUNGS[r].kind == "source"]
    for needed in ("gold", "gold_shuffled"):
        if needed not in measurements:
            raise ValueError(f"calibrate: rung {needed!r} was not measured")
    rates = {r: measurements[r].pass_rates[member] for r in sources}
    scored = set.intersection(*(set(v) for v in rates.values()))
    app_ids = sorted(a for a in scored if all(not math.isnan(rates[r][a]) for r in sources))
    dropped = tuple(sorted(scored - set(app_ids)))
    if len(app_ids) < 2:
        raise ValueError(
            f"{member} on {family}: {len(app_ids)} app(s) scored under every rung; the paired "
            "statistics need at least 2 (see the excluded apps and harness errors)"
        )
    matrix = np.array([[rates[r][a] for r in sources] for a in app_ids])
    boot = paired_bootstrap_means(matrix, n_resamples=config.n_resamples, seed=config.seed)
    column = {r: i for i, r in enumerate(sources)}

    summaries: dict[str, RungSummary] = {}
    for rung in measurements:
        spec, m = RUNGS[rung], measurements[rung]
        if spec.kind == "source":
            low, high = percentile_ci(boot[:, column[rung]], config.confidence)
            mean = float(matrix[:, column[rung]].mean())
            ids = app_ids
            realised = float(np.mean([m.doses[a] for a in ids]))
            at_k = m.pass_at_k[member]
        else:  # the same bound for every member: its own apps, its own bootstrap
            from cetd_lib.metrics.bleu import bootstrap_ci

            bound_rates = next(iter(m.pass_rates.values()))
            ids = sorted(a for a, v in bound_rates.items() if not math.isnan(v))
            values = [bound_rates[a] for a in ids]
            mean = float(np.mean(values)) if values else float("nan")
            low, high = bootstrap_ci(
                values, n_resamples=config.n_resamples, confidence=config.confidence,
                seed=config.seed,
            )  # fmt: skip
            realised = None
            at_k = next(iter(m.pass_at_k.values()))
        names = sorted({k for a in ids for k in at_k.get(a, {})}, key=lambda k: int(k[5:]))
        summaries[rung] = RungSummary(
            rung, spec.kind, spec.dose, realised, mean, low, high, len(ids),
            {k: float(np.mean([at_k[a][k] for a in ids if k in at_k.get(a, {})])) for k in names},
        )  # fmt: skip

    def difference(a: str, b: str) -> Difference:
        diffs = matrix[:, column[a]] - matrix[:, column[b]]
        low, high = percentile_ci(boot[:, column[a]] - boot[:, column[b]], config.confidence)
        sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
        return Difference(a, b, float(diffs.mean()), low, high, sd)

    steps = tuple(difference(a, b) for a, b in dose_steps({r: RUNGS[r].dose for r in sources}))
    gold_vs_shuffled = difference("gold", "gold_shuffled")
    needed, note = apps_needed(
        gold_vs_shuffled.sd, config.effect_size, alpha=1 - config.confidence, power=config.power
    )
    test = wilcoxon_test(
        matrix[:, column["gold"]].tolist(), matrix[:, column["gold_shuffled"]].tolist()
    )
    signal = Signal(
        gold_vs_shuffled, test.p_value, len(app_ids), config.effect_size, config.power, needed,
        note,
    )  # fmt: skip
    verdict, monotone, reason = verdict_for(
        gold_vs_shuffled, signal.p_value, steps, alpha=1 - config.confidence
    )
    return Calibration(
        member, family, tuple(app_ids), dropped, summaries, steps, signal, monotone, verdict,
        reason,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The whole study: families x rungs, then members
# ---------------------------------------------------------------------------------------------


@dataclass
class FamilyRun:
    family: str
    app_ids: list[str]
    measurements: dict[str, RungMeasurement]
    calibrations: dict[str, Calibration]  # member -> calibration

    def per_app(self) -> dict[str, dict[str, dict[str, float]]]:
        """rung -> member -> app_id -> pass rate: the paired data."""
        return {r: m.pass_rates for r, m in self.measurements.items()}


def calibrate_family(
    family: str,
    apps: Sequence[App],
    *,
    config: CalibrationConfig,
    orchestra: Any,
    harness: Any,
    backends: Mapping[str, Any] | None = None,
) -> FamilyRun:
    """Measure every rung of `config.ladder` on `apps`, then calibrate each member."""
    orchestra = sampling_orchestra(orchestra, config)
    measurements = {}
    for rung in config.ladder:
        measurements[rung] = measure_rung(
            rung, family, apps, orchestra=orchestra, harness=harness, backends=backends,
            seed=config.seed,
        )  # fmt: skip
        log.info("calibration %s / %s: %.1f s", family, rung, measurements[rung].seconds)
    members = [m.name for m in orchestra.members]
    calibrations = {m: calibrate(m, family, measurements, config=config) for m in members}
    return FamilyRun(family, [a.app_id for a in apps], measurements, calibrations)


def results_payload(runs: Sequence[FamilyRun], config: CalibrationConfig) -> dict[str, Any]:
    """What results.json holds (see docs/calibration.md)."""
    members = sorted({m for run in runs for m in run.calibrations})
    return {
        "config": dataclasses.asdict(config),
        "ladder": list(config.ladder),
        "rung_descriptions": {r: RUNGS[r].description for r in config.ladder},
        "members": members,
        "families": {
            run.family: {
                "app_ids": run.app_ids,
                "excluded_apps": next(iter(run.measurements.values())).excluded_apps,
                "seconds": {r: m.seconds for r, m in run.measurements.items()},
            }
            for run in runs
        },
        "verdicts": {m: {run.family: run.calibrations[m].verdict for run in runs} for m in members},
        "calibration": {
            m: {run.family: run.calibrations[m].to_dict() for run in runs} for m in members
        },
        "per_app": {run.family: run.per_app() for run in runs},
    }


# ---------------------------------------------------------------------------------------------
# Tables and figures
# ---------------------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def ladder_table(calibration: Calibration) -> str:
    ks = sorted(
        {k for s in calibration.rungs.values() for k in s.pass_at_k}, key=lambda k: int(k[5:])
    )
    lines = [
        "| rung | dose | pass rate | CI | apps | " + " | ".join(ks) + " |",
        "|---|---|---|---|---|" + "---|" * len(ks),
    ]
    for s in calibration.rungs.values():
        dose_text = _fmt(s.realised_dose, ".2f") if s.kind == "source" else "bound"
        lines.append(
            f"| {s.rung} | {dose_text} | {_fmt(s.mean)} | [{_fmt(s.ci_low, '.2f')}, "
            f"{_fmt(s.ci_high, '.2f')}] | {s.n_apps} | "
            + " | ".join(_fmt(s.pass_at_k.get(k)) for k in ks)
            + " |"
        )
    return "\n".join(lines)


def verdict_table(runs: Sequence[FamilyRun]) -> str:
    lines = [
        "| member | family | apps | gold − shuffled | CI | Wilcoxon p | apps for 5 pts | "
        "monotone | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for member, c in run.calibrations.items():
            d = c.signal.difference
            lines.append(
                f"| {member} | {run.family} | {c.signal.n_apps} | {d.mean:+.3f} | "
                f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}] | {_fmt(c.signal.p_value, '.3g')} | "
                f"{c.signal.apps_needed if c.signal.apps_needed is not None else '—'} | "
                f"{'yes' if c.monotone else 'no'} | **{c.verdict}** |"
            )
    return "\n".join(lines)


def plot_dose_response(run: FamilyRun, ax: Any) -> Any:
    """Mean pass rate (paired bootstrap CI) against the realised dose, a line per member; the
    shuffled rung as a cross, no items as a square, oracle/null as dashed lines."""
    markers = {"gold_shuffled": "x", "no_items": "s"}
    for member, c in run.calibrations.items():
        ladder = [s for s in c.rungs.values() if s.kind == "source"]
        line = sorted(
            (s for s in ladder if s.rung not in markers), key=lambda s: s.realised_dose or 0
        )
        xs = [s.realised_dose for s in line]
        ys = [s.mean for s in line]
        err = [[s.mean - s.ci_low for s in line], [s.ci_high - s.mean for s in line]]
        handle = ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=member)
        for s in ladder:
            if s.rung in markers:
                ax.errorbar(
                    [s.realised_dose], [s.mean], yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]],
                    marker=markers[s.rung], color=handle[0].get_color(), capsize=3, linestyle="",
                )  # fmt: skip
    first = next(iter(run.calibrations.values()))
    for name, style in (("oracle_backend", "--"), ("null_backend", ":")):
        if name in first.rungs:
            ax.axhline(first.rungs[name].mean, color="grey", linestyle=style, label=name)
    ax.set_xlabel("share of own gold items given (× shuffled, ■ no items)")
    ax.set_ylabel("pass rate (paired bootstrap CI)")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{run.family}: {len(first.app_ids)} apps")
    ax.legend(fontsize=7)
    return ax


def plot_signal(runs: Sequence[FamilyRun], ax: Any) -> Any:
    """gold − shuffled per (member, family) with its CI; ±effect size as dotted lines; the
    label says how many apps a 5-point difference needs."""
    rows = [(m, run.family, c) for run in runs for m, c in run.calibrations.items()]
    for y, (_member, _family, c) in enumerate(rows):
        d = c.signal.difference
        color = "tab:green" if c.verdict == CARRIES_SIGNAL else "tab:red"
        ax.errorbar([d.mean], [y], xerr=[[d.mean - d.ci_low], [d.ci_high - d.mean]],
                    marker="o", color=color, capsize=4)  # fmt: skip
        needed = c.signal.apps_needed
        ax.annotate(
            f"n={c.signal.n_apps}, needs {needed if needed is not None else '—'}",
            (d.ci_high, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=7,
        )  # fmt: skip
    if rows:
        es = rows[0][2].signal.effect_size
        for x in (-es, es):
            ax.axvline(x, color="grey", linestyle=":")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [f"{m} / {f}" for m, f, _ in rows])
    ax.set_xlabel("gold − shuffled pass rate (paired bootstrap CI); green: carries signal")
    ax.set_xlim(-1.05, 1.3)
    return ax
