"""Holm's correction against hand-computed numbers, and the ranking verdict decided by the
corrected paired tests rather than by point means."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cetd_lib.metrics.paired import (
    check_ranking,
    compare,
    compare_all,
    comparisons_table,
    holm,
    wilcoxon_test,
)

RANKING = ("gold", "phase2_stage2", "phase2_stage1", "phase1")


def test_holm_hand_computed():
    # sorted: 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04, raised to 0.06: monotone)
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    # sorted: 0.001 x 4 = 0.004, 0.02 x 3 = 0.06, 0.2 x 2 = 0.4, 0.5 x 1 = 0.5
    assert holm([0.2, 0.001, 0.5, 0.02]) == pytest.approx([0.4, 0.004, 0.5, 0.06])
    # a NaN (every pair tied: nothing tested) is left out of the family
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == 0.02 and math.isnan(adjusted[1]) and adjusted[2] == 0.04


def test_holm_keeps_a_tiny_adjusted_p_above_zero():
    """Study v2's gold pairs: raw p 1.02e-16 in a family of 9 is 9.18e-16, not the 0.0 that
    rounding to 12 decimals printed (run study-v2q-20261207)."""
    adjusted = holm([1.02e-16, 0.3, 0.5])
    assert adjusted[0] == pytest.approx(3 * 1.02e-16, rel=1e-9)
    assert adjusted[1:] == pytest.approx([0.6, 0.6])


def test_compare_all_keeps_raw_p_beside_holm_p():
    rates = {
        "gold": {f"a{i}": 1.0 for i in range(6)},
        "phase1": {f"a{i}": 0.0 for i in range(6)},
        "level3": {f"a{i}": float(i % 2) for i in range(6)},
    }
    cs = compare_all([("gold", "phase1"), ("gold", "level3")], rates, test="sign")
    assert cs[0].p_value == pytest.approx(2 / 64)  # 6 wins of 6: 2 * 0.5**6
    assert cs[1].p_value == pytest.approx(2 / 8)  # 3 wins, 3 ties
    assert [c.p_holm for c in cs] == pytest.approx([2 * 2 / 64, 2 / 8])
    table = comparisons_table(cs)
    assert "p (raw)" in table and "p (Holm)" in table
    assert "| 0.0312 | 0.0625 | not resolved |" in table  # raw p < 0.05, Holm p is not
    assert "| 0.25 | 0.25 | not resolved |" in table


def _ranked(rates, test="wilcoxon"):
    pairs = list(zip(RANKING, RANKING[1:], strict=False))
    return check_ranking(compare_all(pairs, rates, test=test), RANKING, measured=list(rates))


def _rates(**columns):
    return {name: {f"app{i}": v for i, v in enumerate(vals)} for name, vals in columns.items()}


def test_ranking_holds_only_where_the_corrected_test_says_so():
    n = 10
    check = _ranked(
        _rates(
            gold=[1.0] * n,
            phase2_stage2=[0.7 + 0.01 * i for i in range(n)],
            phase2_stage1=[0.3 + 0.01 * i for i in range(n)],
            phase1=[0.0] * n,
        )
    )
    assert [p.verdict for p in check.pairs] == ["holds"] * 3
    assert check.verdict == "holds"


def test_means_ordered_but_intervals_overlapping_is_not_resolved():
    # stage 2's mean is above stage 1's (0.55 vs 0.45) but the per-app differences go both
    # ways: the paired CI straddles 0 and the test is far from significant
    stage2 = [0.9, 0.1, 0.8, 0.2, 0.75]
    stage1 = [0.4, 0.6, 0.3, 0.7, 0.25]
    rates = _rates(gold=[1.0] * 5, phase2_stage2=stage2, phase2_stage1=stage1, phase1=[0.0] * 5)
    check = _ranked(rates)
    mean2, mean1 = sum(stage2) / 5, sum(stage1) / 5
    assert mean2 > mean1
    middle = check.pairs[1]
    assert (middle.higher, middle.lower) == ("phase2_stage2", "phase2_stage1")
    assert middle.ci_low < 0 < middle.ci_high
    assert middle.verdict == "not resolved"
    assert check.verdict == "not resolved"
    assert "phase2_stage2 > phase2_stage1: not resolved" in "\n".join(check.lines())


def test_a_significant_reversal_is_reported_as_reversed():
    n = 10
    rates = _rates(
        gold=[1.0] * n,
        phase2_stage2=[0.1 + 0.01 * i for i in range(n)],  # below stage 1 on every app
        phase2_stage1=[0.6 + 0.01 * i for i in range(n)],
        phase1=[0.0] * n,
    )
    check = _ranked(rates, test="sign")
    assert [p.verdict for p in check.pairs] == ["holds", "reversed", "holds"]
    assert check.verdict == "reversed"


def test_ranking_reads_a_comparison_in_either_order_and_needs_every_adjacent_pair():
    rates = _rates(gold=[1.0] * 8, phase1=[0.0] * 8)
    flipped = compare_all([("phase1", "gold")], rates, test="sign")
    check = check_ranking(flipped, ["gold", "phase1"], measured=["gold", "phase1"])
    assert check.pairs[0].verdict == "holds" and check.pairs[0].mean_difference == 1.0
    with pytest.raises(ValueError, match="no comparison of 'gold' with 'phase1'"):
        check_ranking([], ["gold", "phase1"], measured=["gold", "phase1"])
    assert check_ranking([], ["gold", "phase1"], measured=["gold"]).verdict == "not measured"


def test_test_direction_is_recorded():
    assert wilcoxon_test([1, 0, 3, 4, 5], [0, 2, 0, 0, 0]).favours == "a"
    assert wilcoxon_test([0, 0, 0], [1, 2, 3]).favours == "b"
    c = compare("gold", "x", {"gold": {"a": 1.0}, "x": {"a": 1.0}})
    assert c.decision(0.05) == "not resolved"  # one tie: nothing tested


def test_wilcoxon_with_ties_is_exact_not_the_normal_approximation():
    # the regression of issue 29: 4 equal wins and 10 ties. scipy's normal approximation gave
    # p = 0.046 ("significant"); the exact sign-flip distribution of 4 equal ranks puts
    # P(all four positive) + P(all four negative) = 2 / 16
    test = wilcoxon_test([1.0] * 4 + [0.5] * 10, [0.0] * 4 + [0.5] * 10)
    assert (test.wins, test.losses, test.ties) == (4, 0, 10)
    assert test.p_value == 0.125
    # the same without the ties: the ties change nothing
    assert wilcoxon_test([1.0] * 4, [0.0] * 4).p_value == 0.125


def _brute_force_p(diffs):
    """Two-sided p by enumerating all 2**n sign patterns of the non-zero |d| (midranks)."""
    import itertools

    from scipy.stats import rankdata

    nonzero = [d for d in diffs if d != 0]
    ranks = rankdata([abs(d) for d in nonzero])
    observed = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    sums = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s)
        for signs in itertools.product([0, 1], repeat=len(nonzero))
    ]
    lower = sum(w <= observed + 1e-9 for w in sums) / len(sums)
    upper = sum(w >= observed - 1e-9 for w in sums) / len(sums)
    return min(1.0, 2 * min(lower, upper))


@pytest.mark.parametrize("seed", range(6))
def test_wilcoxon_matches_enumeration_of_sign_patterns_with_tied_ranks(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    # pass rates in quarters: many zero differences and many tied |d|, as in real runs
    a = rng.integers(0, 5, size=16) / 4
    b = rng.integers(0, 5, size=16) / 4
    test = wilcoxon_test(a, b)
    assert test.p_value == pytest.approx(_brute_force_p(list(a - b)), abs=1e-12)


def test_wilcoxon_agrees_with_scipy_where_scipy_is_exact():
    from scipy.stats import wilcoxon

    a = [0.9, 0.2, 0.75, 0.6, 0.33, 0.81, 0.47, 0.12, 0.97, 0.58]  # distinct |d|, no zero
    b = [0.1, 0.25, 0.3, 0.0, 0.5, 0.2, 0.05, 0.6, 0.15, 0.22]
    ours = wilcoxon_test(a, b)
    theirs = wilcoxon(a, b, method="exact")
    assert ours.statistic == theirs.statistic
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_paired_ratio_interval_keeps_the_pairing():
    from cetd_lib.metrics.paired import paired_ratio

    gold = [0.2, 0.4, 0.6, 0.8, 1.0, 0.5]
    half = [g / 2 for g in gold]  # exactly half of gold on every app
    assert paired_ratio(half, gold, n_resamples=500) == pytest.approx((0.5, 0.5, 0.5))
    noisy = [0.0, 0.4, 0.1, 0.8, 0.2, 0.5]
    ratio, low, high = paired_ratio(noisy, gold, n_resamples=2000, seed=3)
    assert ratio == pytest.approx(sum(noisy) / sum(gold))
    assert low < ratio < high  # a point ratio of means hides this interval
    assert all(math.isnan(v) for v in paired_ratio([1.0], [0.0]))


def test_apps_needed_per_pair_is_at_holms_strictest_level():
    from cetd_lib.metrics.paired import apps_needed

    rates = _rates(
        gold=[1.0, 0.75, 0.5, 1.0, 0.25, 0.75, 0.5, 1.0],
        phase2_stage2=[0.5, 0.75, 0.25, 0.75, 0.25, 0.25, 0.5, 0.5],
        phase1=[0.0, 0.5, 0.0, 0.25, 0.0, 0.0, 0.25, 0.0],
    )
    cs = compare_all([("gold", "phase2_stage2"), ("gold", "phase1")], rates)
    first = cs[0]
    assert first.family_size == 2
    gold, stage2 = rates["gold"].values(), rates["phase2_stage2"].values()
    diffs = [g - s for g, s in zip(gold, stage2, strict=True)]
    assert first.sd_difference == pytest.approx(float(np.std(diffs, ddof=1)))
    expected = apps_needed(first.sd_difference, abs(first.mean_difference), alpha=0.05 / 2)
    assert first.apps_needed(0.05) == expected
    # a larger family asks more of each pair
    assert first.apps_needed(0.05)[0] > apps_needed(first.sd_difference, 0.25, alpha=0.05)[0]
    table = comparisons_table(cs)
    assert "apps needed (alpha 0.05/2, power 0.8)" in table
    assert f"| {expected[0]} |" in table
    check = check_ranking(cs, ["gold", "phase2_stage2"], measured=list(rates))
    assert check.pairs[0].apps_needed == expected[0]
    assert f"apps needed {expected[0]}" in check.lines()[2]


def test_wilcoxon_keeps_a_tiny_p_value_above_zero():
    """60 wins with distinct ranks: only the all-positive sign pattern reaches W+, so the exact
    two-sided p is 2 / 2**60 (~1.7e-18). Rounding to 12 decimals made it 0.0 (study v2)."""
    test = wilcoxon_test([float(i) for i in range(1, 61)], [0.0] * 60)
    assert test.p_value > 0
    assert test.p_value == pytest.approx(2 * 0.5**60, rel=1e-9)
