"""Orchestra calibration: can this orchestra tell good requirements from bad ones?

Before a reconstruction pass rate is used as a reward or a metric, measure whether it moves
with the quality of the requirements at all. On the same apps, each orchestra member rebuilds
the code from a *ladder* of requirement sources whose quality is known by construction:

    gold > gold with 25/50/75% of the items beyond the signature dropped > another app's gold

beside a control outside that chain, `signature_only` (the app's public signatures and
nothing else), plus two bounds from the harness's calibration backends (`oracle` = the
original source, `null` = nothing). Per member and app family the pass rates are compared per
app (paired bootstrap). Two differences decide the verdict: gold - gold_shuffled (are the
requirements read at all?) and gold - signature_only (does the *content* beyond the names
move the pass rate?), each with a CI and a Holm-corrected exact Wilcoxon p; the power analysis
(apps needed to detect a 5-point difference) is for gold - signature_only. Verdict: "carries
content signal", "names only" or "flat" (issue 29: a member that passes exactly when the
signature is present used to get "carries signal").

The rungs are registered requirement sources (`phase2.register_source`) and ablation
sources, so `ablation.sources: [gold, gold_drop50, gold_shuffled]` works by name; they live in
`ladder` (imported here, so loading the params registers them). This module owns the config,
measuring a rung through the harness, the statistics and the verdict; `calibration_report`
shows the results as tables and figures.

This module does not run generated code: every rebuild goes through `reconstruction.reconstruct`.
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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from cetd_lib.apps.app import App
from cetd_lib.config_field import help_field
from cetd_lib.evaluation.ablation import wilcoxon_test
from cetd_lib.evaluation.ladder import (
    DEFAULT_DROP_FRACTIONS,
    DEFAULT_LADDER_SEED,
    DEFAULT_RUNGS,
    DROP_PLACEHOLDER,
    RUNGS,
    LadderContext,
    dose,
    drop_rung_name,
    register_drop_rung,
)
from cetd_lib.metrics.paired import apps_needed, holm
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.sandbox.config import HarnessConfig

if TYPE_CHECKING:
    from cetd_lib.reconstruction.likelihood import AnswerScorer

log = logging.getLogger(__name__)

CARRIES_CONTENT_SIGNAL = "carries content signal"
NAMES_ONLY = "names only"
FLAT = "flat"
CONTROL = "signature_only"  # gold must beat it for the pass rate to pay for content

Family = Literal["bundled", "humaneval", "holdout", "apps_dir"]


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
        "Rungs of the ladder (ladder.RUNGS); 'gold_drop' stands for one rung per "
        "drop_fractions entry. 'gold', 'signature_only' and 'gold_shuffled' are required: the "
        "verdict needs gold - signature_only and gold - gold_shuffled.",
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
        "Difference in mean pass rate (gold - signature_only) the power analysis is for: "
        "0.05 = 5 points.",
        default=0.05,
    )
    power: float = help_field("Power wanted for that difference (paired t-test).", default=0.8)
    likelihood_scorer: str = help_field(
        "Name of a registered likelihood judge (reconstruction.likelihood.register_scorer) to "
        "score every source rung with the likelihood reward as well (likelihood_ladder); "
        "empty = off. Built per orchestra member from its loaded backend.",
        default="",
    )

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
        for needed in ("gold", CONTROL, "gold_shuffled"):
            if needed not in self.rungs:
                raise ValueError(
                    f"calibration.rungs lacks {needed!r}: the verdict needs gold - "
                    f"{CONTROL} and gold - gold_shuffled (add it to calibration.rungs)"
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


def sampling_orchestra(orchestra: OrchestraConfig, config: CalibrationConfig) -> Any:
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
    orchestra: OrchestraConfig,
    harness: HarnessConfig,
    backends: Mapping[str, Any] | None = None,
    seed: int = DEFAULT_LADDER_SEED,
) -> RungMeasurement:
    """Rebuild `apps` from the rung's requirements (or with the bound's backend) and score them
    on their original tests; nothing here runs generated code but `reconstruct`."""
    from cetd_lib.evaluation.phase2 import requirements_from
    from cetd_lib.reconstruction.config import BackendSpec
    from cetd_lib.reconstruction.reconstruct import reconstruct

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
    """One verdict difference (gold - signature_only or gold - gold_shuffled) with its test."""

    difference: Difference
    p_value: float  # exact Wilcoxon signed-rank, two-sided, zeros dropped; NaN: all tied
    p_holm: float  # Holm over the verdict's two differences
    n_apps: int
    effect_size: float
    power: float
    apps_needed: int | None
    apps_needed_note: str

    def holds(self, alpha: float) -> bool:
        """CI above 0 and Holm p < alpha (NaN, every app tied, is not significant)."""
        return self.difference.ci_low > 0 and self.p_holm < alpha


@dataclass(frozen=True)
class Calibration:
    """One member on one family: the ladder, the two signals and the verdict."""

    member: str
    family: str
    app_ids: tuple[str, ...]  # apps scored under every source rung (the paired set)
    dropped_apps: tuple[str, ...]  # scored by the harness but NaN under some rung
    rungs: dict[str, RungSummary]
    steps: tuple[Difference, ...]  # adjacent dose levels of the chain, higher dose first
    signal: Signal  # gold - signature_only: what the requirements' content adds
    names_signal: Signal  # gold - gold_shuffled: whether the requirements are read at all
    monotone: bool
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, sig in (("signal", self.signal), ("names_signal", self.names_signal)):
            data[key]["difference"]["excludes_zero"] = sig.difference.excludes_zero
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
    content: Signal, names: Signal, steps: Sequence[Difference], alpha: float = 0.05
) -> tuple[str, bool, str]:
    """(verdict, monotone, reason).

    - "carries content signal": gold - signature_only AND gold - gold_shuffled each have a
      paired bootstrap CI above 0 and a Holm-corrected Wilcoxon p < alpha, and no step of the
      dose chain is reversed (CI entirely below 0: noise may tie neighbours, not invert them);
    - "names only": gold - gold_shuffled holds but gold - signature_only does not: the pass
      rate moves with the names the tests import, not with what the requirements say;
    - "flat": otherwise (the requirements are not read, or the ladder inverts).

    A CI alone is too narrow on a handful of apps (3 of 5 better and 2 tied gives a CI above 0
    but p = 0.25), hence the test beside it.
    """
    reversed_steps = [s for s in steps if s.reversed]
    monotone = not reversed_steps

    def describe(sig: Signal) -> str:
        d = sig.difference
        return (
            f"{d.a} - {d.b} {d.mean:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}], "
            f"Holm p = {sig.p_holm:.3g}"
        )

    if not names.holds(alpha):
        return FLAT, monotone, f"{describe(names)}: not above 0 at alpha {alpha:g}"
    if not content.holds(alpha):
        return (
            NAMES_ONLY,
            monotone,
            f"{describe(names)} holds, but {describe(content)} does not: the signature alone "
            "rebuilds as well as gold",
        )
    if not monotone:
        inverted = ", ".join(f"{s.b} > {s.a}" for s in reversed_steps)
        return FLAT, monotone, f"both differences hold, but the ladder inverts: {inverted}"
    return (
        CARRIES_CONTENT_SIGNAL,
        monotone,
        f"{describe(content)} and {describe(names)} hold and no step inverts",
    )


def column_difference(
    values: np.ndarray,
    boot: np.ndarray,
    column: dict[str, int],
    a: str,
    b: str,
    confidence: float,
) -> Difference:
    """Paired difference of rungs `a` - `b` over apps (rows of `values`), with the percentile
    CI from the bootstrap means `boot` (resamples x rungs) and the sd of the per-app differences."""
    diffs = values[:, column[a]] - values[:, column[b]]
    low, high = percentile_ci(boot[:, column[a]] - boot[:, column[b]], confidence)
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
    return Difference(a, b, float(diffs.mean()), low, high, sd)


def calibrate(
    member: str,
    family: str,
    measurements: Mapping[str, RungMeasurement],
    *,
    config: CalibrationConfig,
) -> Calibration:
    """Summarise one member's ladder on one family (paired over apps scored on every rung)."""
    sources = [r for r in measurements if RUNGS[r].kind == "source"]
    for needed in ("gold", CONTROL, "gold_shuffled"):
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
        return column_difference(matrix, boot, column, a, b, config.confidence)

    chain = {r: RUNGS[r].dose for r in sources if RUNGS[r].in_chain}
    steps = tuple(difference(a, b) for a, b in dose_steps(chain))
    alpha = 1 - config.confidence
    pairs = [difference("gold", CONTROL), difference("gold", "gold_shuffled")]
    p_raw = [
        wilcoxon_test(matrix[:, column[d.a]].tolist(), matrix[:, column[d.b]].tolist()).p_value
        for d in pairs
    ]
    signals = []
    for d, p, p_holm in zip(pairs, p_raw, holm(p_raw), strict=True):
        needed, note = apps_needed(d.sd, config.effect_size, alpha=alpha, power=config.power)
        signals.append(
            Signal(d, p, p_holm, len(app_ids), config.effect_size, config.power, needed, note)
        )
    content, names_signal = signals
    verdict, monotone, reason = verdict_for(content, names_signal, steps, alpha=alpha)
    return Calibration(
        member, family, tuple(app_ids), dropped, summaries, steps, content, names_signal,
        monotone, verdict, reason,
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
    likelihood: dict[str, LikelihoodCalibration] = field(default_factory=dict)  # member ->

    def per_app(self) -> dict[str, dict[str, dict[str, float]]]:
        """rung -> member -> app_id -> pass rate: the paired data."""
        return {r: m.pass_rates for r, m in self.measurements.items()}


def calibrate_family(
    family: str,
    apps: Sequence[App],
    *,
    config: CalibrationConfig,
    orchestra: OrchestraConfig,
    harness: HarnessConfig,
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
        # the likelihood reward's ladder, per member and family, where a scorer was given
        "likelihood": {
            run.family: {m: lc.to_dict() for m, lc in run.likelihood.items()}
            for run in runs
            if run.likelihood
        },
    }


# ---------------------------------------------------------------------------------------------
# The likelihood reward on the same ladder (issue 29 item 5)
# ---------------------------------------------------------------------------------------------

USE_LIKELIHOOD = "use"
SKIP_LIKELIHOOD = "do not use"


@dataclass(frozen=True)
class LikelihoodRung:
    """One source rung under the likelihood reward: the mean gain over signature_only
    (paired bootstrap CI) and its per-app Spearman rank correlation with the pass-rate gain."""

    rung: str
    mean_gain: float
    ci_low: float
    ci_high: float
    n_apps: int
    spearman: float  # NaN when either gain is constant over the apps
    spearman_p: float


@dataclass(frozen=True)
class LikelihoodCalibration:
    """Does the likelihood gain order the ladder as the pass rate does, and agree with it?"""

    member: str
    family: str
    rungs: dict[str, LikelihoodRung]
    steps: tuple[Difference, ...]  # the dose chain on the likelihood gain
    monotone: bool
    verdict: str  # USE_LIKELIHOOD or SKIP_LIKELIHOOD
    reason: str
    per_app: dict[str, dict[str, float]]  # rung -> app_id -> mean log-prob per code token

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for step, raw in zip(self.steps, data["steps"], strict=True):
            raw["reversed"] = step.reversed
        return data


def _spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan"), float("nan")
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def likelihood_ladder(
    run: FamilyRun,
    apps: Sequence[App],
    member: str,
    scorer: AnswerScorer,
    *,
    config: CalibrationConfig,
    prompt_version: str,
) -> LikelihoodCalibration:
    """Score every source rung of `run` with `scorer` (a `reconstruction.likelihood.AnswerScorer`):
    lp(rung, app) = mean log-prob per token of the app's stripped code given the rung's list.
    Gain = lp(rung) - lp(signature_only), as the stage-2 reward pays it. Per rung: the mean
    gain with a paired bootstrap CI and the per-app Spearman correlation with the pass-rate
    gain of `member` (pass_rate(rung) - pass_rate(signature_only)).

    Verdict "use" iff gold's gain has a CI above 0, no step of the dose chain is reversed,
    and gold's per-app Spearman rho > 0 with p < alpha: the reward then ranks lists as the
    rebuilds do. Issue 29's hand measurement (12 apps) had rho = -0.20: "do not use".
    """
    from cetd_lib.evaluation.phase2 import requirements_from
    from cetd_lib.reconstruction.likelihood import code_answer
    from cetd_lib.reconstruction.prompts import build_prompt

    sources = [r for r in run.measurements if RUNGS[r].kind == "source"]
    if CONTROL not in sources or "gold" not in sources:
        raise ValueError(f"likelihood_ladder needs the gold and {CONTROL} rungs measured")
    ids = [a for a in run.calibrations[member].app_ids]
    by_id = {a.app_id: a for a in apps if a.app_id in ids}
    answers = {a: code_answer(by_id[a]) for a in ids}
    pairs = []
    for rung in sources:
        lists = requirements_from(rung, list(by_id.values()), LadderContext(seed=config.seed))
        pairs += [(rung, a, build_prompt(by_id[a], lists[a], prompt_version)) for a in ids]
    scores = scorer.score([p for _, _, p in pairs], [answers[a] for _, a, _ in pairs])
    lp: dict[str, dict[str, float]] = {}
    for (rung, app_id, _), value in zip(pairs, scores, strict=True):
        lp.setdefault(rung, {})[app_id] = float(value)

    gains = np.array([[lp[r][a] - lp[CONTROL][a] for r in sources] for a in ids])
    boot = paired_bootstrap_means(gains, n_resamples=config.n_resamples, seed=config.seed)
    column = {r: i for i, r in enumerate(sources)}
    rates = run.measurements
    rungs = {}
    for rung in sources:
        pass_gain = [
            rates[rung].pass_rates[member][a] - rates[CONTROL].pass_rates[member][a] for a in ids
        ]
        rho, p = _spearman(list(gains[:, column[rung]]), pass_gain)
        low, high = percentile_ci(boot[:, column[rung]], config.confidence)
        rungs[rung] = LikelihoodRung(
            rung, float(gains[:, column[rung]].mean()), low, high, len(ids), rho, p
        )

    def difference(a: str, b: str) -> Difference:
        return column_difference(gains, boot, column, a, b, config.confidence)

    chain = {r: RUNGS[r].dose for r in sources if RUNGS[r].in_chain}
    steps = tuple(difference(a, b) for a, b in dose_steps(chain))
    monotone = not any(s.reversed for s in steps)
    alpha, gold = 1 - config.confidence, rungs["gold"]
    if not gold.ci_low > 0:
        ci = f"[{gold.ci_low:+.3f}, {gold.ci_high:+.3f}]"
        verdict, reason = SKIP_LIKELIHOOD, f"gold's gain CI {ci} does not lie above 0"
    elif not monotone:
        inverted = ", ".join(f"{s.b} > {s.a}" for s in steps if s.reversed)
        verdict, reason = SKIP_LIKELIHOOD, f"the likelihood ladder inverts: {inverted}"
    elif not (gold.spearman > 0 and gold.spearman_p < alpha):
        verdict, reason = (
            SKIP_LIKELIHOOD,
            f"per-app rank correlation with the pass-rate gain rho = {gold.spearman:+.2f} "
            f"(p = {gold.spearman_p:.3g}): it does not rank lists as the rebuilds do",
        )
    else:
        verdict, reason = (
            USE_LIKELIHOOD,
            f"gold's gain {gold.mean_gain:+.3f} > 0, monotone, rho = {gold.spearman:+.2f} "
            f"(p = {gold.spearman_p:.3g})",
        )
    return LikelihoodCalibration(member, run.family, rungs, steps, monotone, verdict, reason, lp)


def calibrate_likelihood(
    runs: Sequence[FamilyRun],
    families: Mapping[str, Sequence[App]],
    backends: Mapping[str, Any],
    *,
    config: CalibrationConfig,
    prompt_version: str,
) -> None:
    """`likelihood_ladder` for every member and family with the judge
    `config.likelihood_scorer` built on each member's backend; stored in `run.likelihood`."""
    from cetd_lib.reconstruction.likelihood import make_scorer

    if not config.likelihood_scorer:
        return
    for run in runs:
        for member in run.calibrations:
            scorer = make_scorer(config.likelihood_scorer, backends[member])
            run.likelihood[member] = likelihood_ladder(
                run, families[run.family], member, scorer, config=config,
                prompt_version=prompt_version,
            )  # fmt: skip
