"""The maths of a side-by-side review: pure functions on lists, each with its formula."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Agresti & Coull 1998):

    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), with p = successes / n.
    Unlike the Wald interval it stays inside [0, 1] and behaves at p = 0 or 1 and small n.
    """
    if n == 0:
        return (float("nan"), float("nan"))
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie in [0, n={n}]")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def binomial_test(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test: the summed probability of every outcome no likelier than
    the observed one, P = Σ_{k: P(k) ≤ P(x)} C(n,k) p^k (1-p)^(n-k) (as R's binom.test and
    scipy.stats.binomtest). NaN when n = 0."""
    if n == 0:
        return float("nan")
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    observed = pmf[successes]
    return min(1.0, sum(q for q in pmf if q <= observed * (1 + 1e-7)))


def weighted_kappa(
    rater_a: Sequence[int], rater_b: Sequence[int], categories: Sequence[int]
) -> float:
    """Cohen's weighted kappa with quadratic weights (Cohen 1968; Fleiss & Cohen 1973):

    κ_w = 1 - Σ w_ij O_ij / Σ w_ij E_ij, w_ij = (i - j)² / (k - 1)², O the observed joint
    proportions and E = outer(row marginals, column marginals). With two categories it equals
    the unweighted kappa. NaN when undefined (no expected disagreement, e.g. one category).
    """
    if len(rater_a) != len(rater_b):
        raise ValueError(f"rater lists differ in length: {len(rater_a)} vs {len(rater_b)}")
    if not rater_a:
        return float("nan")
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    observed = np.zeros((k, k))
    for a, b in zip(rater_a, rater_b, strict=True):
        observed[index[a], index[b]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / max(k - 1, 1) ** 2
    disagreement = float((weights * expected).sum())
    if disagreement == 0:
        return float("nan")
    return 1.0 - float((weights * observed).sum()) / disagreement


def krippendorff_alpha(
    reliability_data: Sequence[Sequence[float | None]], level: str = "ordinal"
) -> float:
    """Krippendorff's alpha, α = 1 - D_o / D_e (Krippendorff 2011, "Computing Krippendorff's
    Alpha-Reliability"), via the `krippendorff` package. Rows are raters, columns units; None or
    NaN marks a missing rating. NaN when undefined (fewer than two pairable values, or no
    variation at all)."""
    import krippendorff

    data = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in reliability_data], dtype=float
    )
    pairable = (np.sum(~np.isnan(data), axis=0) >= 2).sum() if data.size else 0
    if pairable == 0 or len(np.unique(data[~np.isnan(data)])) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
