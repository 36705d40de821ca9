"""Paired comparisons of conditions scored on the same apps, with corrected p-values.

Every condition (a requirement source, a code context, a checkpoint) is scored per app by the
same orchestra, so conditions are compared per app: a paired bootstrap interval of the mean
difference and a paired test (Wilcoxon signed-rank or the sign test, both exact for every n
and with ties: zero differences are dropped, tied |d| get midranks). When several pairs are
tested together their p-values are Holm-corrected (Holm 1979; statsmodels `multipletests`),
raw ones kept beside.

The expected ranking ("gold > stage 2 > stage 1 > phase 1") is decided per adjacent pair by the
Holm-corrected paired test, never by point means: a pair whose means are ordered but whose test
is not significant is "not resolved". Used by the ablation and the phase-2 notebook.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cetd_lib.metrics.bleu import bootstrap_ci


def paired_values(
    a: Mapping[str, float], b: Mapping[str, float]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Apps scored (not NaN) under both conditions, sorted by id, and their two values."""
    ids = sorted(k for k in set(a) & set(b) if not (math.isnan(a[k]) or math.isnan(b[k])))
    return ids, np.array([a[k] for k in ids], float), np.array([b[k] for k in ids], float)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean of a - b, low, high): percentile bootstrap of the mean paired difference.

    Apps are resampled with replacement and both conditions move together, so the interval
    reflects the per-app pairing (Efron & Tibshirani 1993, ch. 13). NaNs if there are no pairs.

    >>> paired_bootstrap([1, 1], [1, 0], n_resamples=4000)  # differences 0 and 1
    (0.5, 0.0, 1.0)
    """
    diffs = np.asarray(a, float) - np.asarray(b, float)
    if diffs.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    low, high = bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return (float(diffs.mean()), low, high)


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
    with warnings.catch_warnings():  # a failed solve returns NaN, reported below
        warnings.simplefilter("ignore")
        n = analysis.solve_power(effect_size=d, alpha=alpha, power=power, alternative="two-sided")
    if n is None or not math.isfinite(float(n)):
        return None, f"d = {d:.3g}: the power solver did not converge"
    return int(math.ceil(float(n))), note


def paired_ratio(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean(a) / mean(b), low, high): percentile bootstrap of the ratio of means, apps
    resampled jointly (Efron & Tibshirani 1993, ch. 13). "Stage 2 reaches 84 % of gold" is
    this ratio; a ratio of rounded means without its interval hides that on 80 apps it can
    span 40-130 % (issue 29). Resamples whose mean(b) is 0 are left out; NaNs when every one
    is (or there are no pairs).

    >>> paired_ratio([1, 1, 0, 0], [1, 1, 1, 1])[0]
    0.5
    """
    va, vb = np.asarray(a, float), np.asarray(b, float)
    if va.size == 0 or vb.mean() == 0:
        return (float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, va.size, size=(n_resamples, va.size))
    num, den = va[idx].mean(axis=1), vb[idx].mean(axis=1)
    ratios = num[den > 0] / den[den > 0]
    if ratios.size == 0:
        return (float(va.mean() / vb.mean()), float("nan"), float("nan"))
    tail = (1 - confidence) / 2
    return (
        float(va.mean() / vb.mean()),
        float(np.quantile(ratios, tail)),
        float(np.quantile(ratios, 1 - tail)),
    )


@dataclass(frozen=True)
class PairedTest:
    """A two-sided paired test on per-app differences a - b; ties (a == b) are dropped."""

    name: str  # "sign" or "wilcoxon"
    statistic: float  # sign: wins of a; wilcoxon: min(W+, W-)
    p_value: float  # NaN when every pair is tied (nothing to test)
    n_pairs: int
    wins: int  # a > b
    losses: int  # a < b
    ties: int
    favours: str = "neither"  # which side the statistic leans to: "a", "b" or "neither"


def _counts(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, int, int, int]:
    # rounded: pass rates are fractions, and 0.3 - 0.1 != 0.2 in floats would split a tie
    diffs = np.round(np.asarray(a, float) - np.asarray(b, float), 12)
    wins, losses = int((diffs > 0).sum()), int((diffs < 0).sum())
    return diffs, wins, losses, int(diffs.size - wins - losses)


def sign_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Exact two-sided sign test: wins ~ Binomial(wins + losses, 1/2) under no difference.

    >>> round(sign_test([1, 1, 1, 1, 1], [0, 0, 0, 0, 0]).p_value, 4)  # 2 * 0.5**5
    0.0625
    """
    from scipy.stats import binomtest

    diffs, wins, losses, ties = _counts(a, b)
    n = wins + losses
    p = binomtest(wins, n, 0.5).pvalue if n else float("nan")
    return PairedTest(
        "sign", float(wins), float(p), int(diffs.size), wins, losses, ties, _favours(wins - losses)
    )


def wilcoxon_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test, exact for every n, zero differences dropped
    (Wilcoxon 1945) and tied |d| given midranks.

    The p-value comes from the exact sign-flip distribution of W+ given the observed ranks
    (`_signed_rank_null`), never a normal approximation: scipy switches to one whenever a zero
    or a tied rank is present and n > 13, which made 4 equal wins + 10 ties p = 0.046 where
    the exact answer is 2 / 2**4 = 0.125. p = min(1, 2 min(P(W+ <= w+), P(W+ >= w+))).

    >>> t = wilcoxon_test([1, 0, 3, 4, 5], [0, 2, 0, 0, 0])  # ranks 1..5, W- = 2
    >>> t.statistic, round(t.p_value, 4)  # 6 of 32 sign patterns have min(W+, W-) <= 2
    (2.0, 0.1875)
    >>> wilcoxon_test([1] * 4 + [0] * 10, [0] * 14).p_value  # 4 tied wins, 10 zeros
    0.125
    """
    from scipy.stats import rankdata

    diffs, wins, losses, ties = _counts(a, b)
    if wins + losses == 0:
        return PairedTest("wilcoxon", float("nan"), float("nan"), int(diffs.size), 0, 0, ties)
    nonzero = diffs[diffs != 0]
    doubled = np.rint(2 * rankdata(np.abs(nonzero))).astype(int)  # midranks are k / 2
    w_plus2 = int(doubled[nonzero > 0].sum())
    w_minus2 = int(doubled.sum()) - w_plus2
    null = _signed_rank_null(doubled)
    lower, upper = float(null[: w_plus2 + 1].sum()), float(null[w_plus2:].sum())
    p = min(1.0, 2 * min(lower, upper))
    return PairedTest(
        "wilcoxon",
        min(w_plus2, w_minus2) / 2,
        _without_float_noise(p),
        int(diffs.size),
        wins,
        losses,
        ties,
        _favours(w_plus2 - w_minus2),
    )


def _signed_rank_null(doubled_ranks: np.ndarray) -> np.ndarray:
    """P(2 W+ = s) for s = 0 .. sum(doubled_ranks) when each rank's sign is an independent fair
    coin: the exact permutation (sign-flip) distribution of the signed-rank statistic given the
    observed ranks, midranks of tied |d| included (doubled so they are integers).

    One convolution per rank: p_{k}(s) = (p_{k-1}(s) + p_{k-1}(s - r_k)) / 2. O(n^3) for n
    differences: 164 apps take milliseconds, 1,000 about a second.
    """
    dist = np.zeros(int(doubled_ranks.sum()) + 1)
    dist[0] = 1.0
    top = 0
    for r in (int(x) for x in doubled_ranks):
        shifted = dist[: top + 1].copy()
        dist[: top + 1] *= 0.5
        dist[r : r + top + 1] += 0.5 * shifted
        top += r
    return dist


PAIRED_TESTS: dict[str, Callable[[Sequence[float], Sequence[float]], PairedTest]] = {
    "sign": sign_test,
    "wilcoxon": wilcoxon_test,
}


@dataclass(frozen=True)
class PairedComparison:
    """Condition `a` against `b` on the apps both scored."""

    a: str
    b: str
    status: str  # "measured" or why not
    app_ids: tuple[str, ...] = ()
    mean_difference: float = float("nan")  # mean over apps of pass_rate(a) - pass_rate(b)
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    test: PairedTest | None = None
    p_holm: float = float("nan")  # the test's p after Holm's correction over its family
    sd_difference: float = float("nan")  # SD (ddof 1) of the per-app differences
    family_size: int = 0  # measured comparisons in the Holm family (set by with_holm)

    def apps_needed(self, alpha: float, power: float = 0.8) -> tuple[int | None, str]:
        """Apps a paired t-test needs to detect the observed mean difference at Holm's
        strictest level alpha / m (the first step of the family of m) with `power`."""
        if self.test is None or math.isnan(self.mean_difference) or self.mean_difference == 0:
            return None, "no difference measured"
        m = max(1, self.family_size)
        return apps_needed(
            self.sd_difference, abs(self.mean_difference), alpha=alpha / m, power=power
        )

    @property
    def p_value(self) -> float:
        return self.test.p_value if self.test is not None else float("nan")

    def decision(self, alpha: float) -> str:
        """ "a > b", "b > a" or "not resolved", by the Holm-corrected test at level `alpha`.

        Significant means Holm p < alpha; the direction must then agree between the mean
        paired difference and the test's own statistic (else: not resolved).
        """
        if self.test is None or math.isnan(self.p_holm) or self.p_holm >= alpha:
            return "not resolved"
        if self.mean_difference > 0 and self.test.favours == "a":
            return f"{self.a} > {self.b}"
        if self.mean_difference < 0 and self.test.favours == "b":
            return f"{self.b} > {self.a}"
        return "not resolved"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compare(
    name_a: str,
    name_b: str,
    pass_rates: Mapping[str, Mapping[str, float] | None],
    *,
    test: str = "wilcoxon",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Paired comparison of two conditions' per-app pass rates (None: condition not measured)."""
    a, b = pass_rates.get(name_a), pass_rates.get(name_b)
    missing = [n for n, v in ((name_a, a), (name_b, b)) if v is None]
    if missing:
        return PairedComparison(name_a, name_b, f"not available: {', '.join(missing)}")
    ids, va, vb = paired_values(a, b)
    if not ids:
        return PairedComparison(name_a, name_b, "no app scored under both")
    mean, low, high = paired_bootstrap(
        va, vb, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    sd = float(np.std(va - vb, ddof=1)) if len(ids) > 1 else float("nan")
    return PairedComparison(
        name_a, name_b, "measured", tuple(ids), mean, low, high, PAIRED_TESTS[test](va, vb),
        sd_difference=sd,
    )  # fmt: skip


def _favours(lean: float) -> str:
    return "a" if lean > 0 else "b" if lean < 0 else "neither"


# ---------------------------------------------------------------------------------------------
# Holm's correction over a family of comparisons
# ---------------------------------------------------------------------------------------------


def _without_float_noise(p: float) -> float:
    """`p` to 12 significant digits: hand-computed p-values compare equal, and a tiny p stays
    above 0 (12 decimals made study v2's 1e-16 a 0.0)."""
    return float(f"{p:.12g}")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (Holm 1979), by statsmodels; NaN stays NaN and is not
    counted in the family (a comparison with every pair tied tests nothing).

    p_(i) sorted ascending among m: adjusted p_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)).

    >>> holm([0.01, 0.04, 0.03])  # 3 x 0.01, then max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    [0.03, 0.06, 0.06]
    """
    from statsmodels.stats.multitest import multipletests

    index = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    out = [float("nan")] * len(p_values)
    if index:
        adjusted = multipletests([p_values[i] for i in index], method="holm")[1]
        for i, p in zip(index, adjusted, strict=True):
            out[i] = _without_float_noise(float(p))
    return out


def with_holm(comparisons: Sequence[PairedComparison]) -> list[PairedComparison]:
    """The comparisons with `p_holm` set, the family being every measured one in the list."""
    adjusted = holm([c.p_value for c in comparisons])
    m = sum(not math.isnan(p) for p in adjusted)
    return [
        dataclasses.replace(c, p_holm=p, family_size=m)
        for c, p in zip(comparisons, adjusted, strict=True)
    ]


def compare_all(
    pairs: Sequence[tuple[str, str]],
    pass_rates: Mapping[str, Mapping[str, float] | None],
    **kwargs: Any,
) -> list[PairedComparison]:
    """`compare` for each pair, then Holm over the list (one family)."""
    return with_holm([compare(a, b, pass_rates, **kwargs) for a, b in pairs])


# ---------------------------------------------------------------------------------------------
# The expected ranking, decided by the corrected tests
# ---------------------------------------------------------------------------------------------

RANKING_RULE = (
    "each adjacent pair is decided by the Holm-corrected paired test (p < {alpha:g}) with the "
    "mean paired difference and the test agreeing in direction; otherwise 'not resolved'"
)


@dataclass(frozen=True)
class RankedPair:
    """One adjacent pair of the expected ranking: `higher` should beat `lower`."""

    higher: str
    lower: str
    verdict: str  # "holds", "reversed", "not resolved"
    mean_difference: float  # mean over apps of pass_rate(higher) - pass_rate(lower)
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    p_holm: float
    n_apps: int
    apps_needed: int | None = None  # to detect this difference at Holm's alpha / m, power 0.8

    def line(self) -> str:
        p = "—" if math.isnan(self.p_value) else f"{self.p_value:.3g}"
        ph = "—" if math.isnan(self.p_holm) else f"{self.p_holm:.3g}"
        needed = "—" if self.apps_needed is None else str(self.apps_needed)
        return (
            f"{self.higher} > {self.lower}: {self.verdict} (mean difference "
            f"{self.mean_difference:+.3f} [{self.ci_low:+.2f}, {self.ci_high:+.2f}] over "
            f"{self.n_apps} apps; {self.test} p = {p}, Holm p = {ph}; apps needed {needed})"
        )


@dataclass(frozen=True)
class RankingCheck:
    expected: tuple[str, ...]
    not_measured: tuple[str, ...]  # names of `expected` without pass rates: skipped
    pairs: tuple[RankedPair, ...]  # adjacent pairs of the measured chain
    verdict: str
    rule: str
    observed_by_mean: tuple[str, ...] = ()  # for reading only: point means decide nothing

    def lines(self) -> list[str]:
        out = [f"expected: {' > '.join(self.expected)}", f"rule: {self.rule}"]
        out += [f"  {pair.line()}" for pair in self.pairs]
        if self.not_measured:
            out.append(f"  not measured (skipped): {', '.join(self.not_measured)}")
        out.append(f"verdict: {self.verdict}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": list(self.expected),
            "not_measured": list(self.not_measured),
            "pairs": [dataclasses.asdict(p) for p in self.pairs],
            "verdict": self.verdict,
            "rule": self.rule,
            "observed_by_mean": list(self.observed_by_mean),
        }


def _find(comparisons: Sequence[PairedComparison], a: str, b: str) -> PairedComparison:
    for c in comparisons:
        if (c.a, c.b) == (a, b):
            return c
        if (c.a, c.b) == (b, a):  # the same comparison read the other way round
            test = c.test and dataclasses.replace(
                c.test,
                wins=c.test.losses,
                losses=c.test.wins,
                favours={"a": "b", "b": "a"}.get(c.test.favours, "neither"),
            )
            return dataclasses.replace(
                c,
                a=a,
                b=b,
                mean_difference=-c.mean_difference,
                ci_low=-c.ci_high,
                ci_high=-c.ci_low,
                test=test,
            )
    raise ValueError(
        f"no comparison of {a!r} with {b!r}: include ranking_pairs(expected, measured) in the "
        "compared pairs so the ranking can be decided"
    )


def ranking_pairs(expected: Sequence[str], measured: Collection[str]) -> list[tuple[str, str]]:
    """Adjacent pairs of `expected` once the unmeasured names are skipped."""
    chain = [name for name in expected if name in measured]
    return list(zip(chain, chain[1:], strict=False))


def check_ranking(
    comparisons: Sequence[PairedComparison],
    expected: Sequence[str],
    *,
    measured: Collection[str],
    alpha: float = 0.05,
    means: Mapping[str, float] | None = None,
) -> RankingCheck:
    """Decide `expected` (best first) pair by adjacent pair from Holm-corrected comparisons.

    Per pair: "holds" (higher significantly above lower), "reversed" (significantly below) or
    "not resolved". Overall: "holds" (every pair holds, nothing skipped), "holds where measured"
    (every measured pair holds, some name not measured), "reversed" (some pair reversed),
    "not resolved" (otherwise) or "not measured" (fewer than two names measured). `means`, if
    given, only orders `observed_by_mean` for the reader.
    """
    rule = RANKING_RULE.format(alpha=alpha)
    not_measured = tuple(name for name in expected if name not in measured)
    pairs = []
    for high, low in ranking_pairs(expected, measured):
        c = _find(comparisons, high, low)
        decision = c.decision(alpha)
        verdict = (
            "holds"
            if decision == f"{high} > {low}"
            else "reversed"
            if decision == f"{low} > {high}"
            else "not resolved"
        )
        pairs.append(
            RankedPair(
                high,
                low,
                verdict,
                c.mean_difference,
                c.ci_low,
                c.ci_high,
                c.test.name if c.test else c.status,
                c.p_value,
                c.p_holm,
                len(c.app_ids),
                c.apps_needed(alpha)[0],
            )
        )
    verdicts = {p.verdict for p in pairs}
    if not pairs:
        overall = "not measured"
    elif "reversed" in verdicts:
        overall = "reversed"
    elif verdicts == {"holds"}:
        overall = "holds where measured" if not_measured else "holds"
    else:
        overall = "not resolved"
    observed: tuple[str, ...] = ()
    if means is not None:
        known = [n for n in expected if n in measured and not math.isnan(means.get(n, math.nan))]
        observed = tuple(sorted(known, key=lambda n: (-means[n], expected.index(n))))
    return RankingCheck(tuple(expected), not_measured, tuple(pairs), overall, rule, observed)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def comparisons_table(comparisons: Sequence[PairedComparison], alpha: float = 0.05) -> str:
    """Markdown: one row per comparison with raw and Holm-corrected p, the decision, and the
    apps a paired t-test needs to detect the observed difference at Holm's alpha / m."""
    m = max((c.family_size for c in comparisons), default=0)
    lines = [
        "| a vs b | apps | mean(a - b) | CI | wins/losses/ties | test | p (raw) | p (Holm) | "
        f"decision (Holm p < {alpha:g}) | apps needed (alpha {alpha:g}/{max(m, 1)}, power 0.8) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        if c.test is None:
            lines.append(f"| {c.a} vs {c.b} | {c.status} | | | | | | | | |")
            continue
        t = c.test
        p = "—" if math.isnan(t.p_value) else f"{t.p_value:.3g}"
        ph = "—" if math.isnan(c.p_holm) else f"{c.p_holm:.3g}"
        needed = c.apps_needed(alpha)[0]
        lines.append(
            f"| {c.a} vs {c.b} | {len(c.app_ids)} | {c.mean_difference:+.3f} | "
            f"[{c.ci_low:+.2f}, {c.ci_high:+.2f}] | {t.wins}/{t.losses}/{t.ties} | {t.name} | "
            f"{p} | {ph} | {c.decision(alpha)} | {needed if needed is not None else '—'} |"
        )
    return "\n".join(lines)
