"""Review maths against textbook examples and hand-computed numbers."""

import dataclasses
import math

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import binom_test, proportion_confint

from cetd_lib.review import CRITERIA, Rating, summarize
from cetd_lib.review.stats import (
    binomial_test,
    krippendorff_alpha,
    weighted_kappa,
    wilson_interval,
)


def test_wilson_interval_by_hand_and_against_statsmodels():
    z2 = 1.959964**2
    assert wilson_interval(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))  # upper = z²/(n+z²)
    for k, n in [(0, 10), (3, 10), (81, 263), (10, 10)]:
        assert wilson_interval(k, n) == pytest.approx(
            proportion_confint(k, n, method="wilson"), abs=1e-6
        )
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_binomial_test_by_hand_and_against_statsmodels():
    assert binomial_test(9, 10) == pytest.approx(22 / 1024)  # 2 · (C(10,9) + C(10,10)) / 2^10
    assert binomial_test(5, 10) == pytest.approx(1.0)
    for k, n in [(0, 5), (7, 20), (13, 20), (30, 40)]:
        assert binomial_test(k, n) == pytest.approx(binom_test(k, n, 0.5), rel=1e-9)


def test_kappa_matches_the_textbook_two_category_example():
    # Wikipedia "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4 (quadratic = unweighted for k=2).
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert weighted_kappa(a, b, ["y", "n"]) == pytest.approx(0.4)


def test_quadratic_kappa_by_hand_and_against_statsmodels():
    # 4 items, categories 1..3: pairs (1,1) (2,3) (3,3) (1,2); weights (i-j)²/4.
    # observed: sum w·O = (0.25 + 0.25) / 4 = 0.125; row marg (.5,.25,.25), col (.25,.25,.5):
    # sum w·E = Σ r_i c_j (i-j)²/4 = .5·(.0625+.5) + .25·(.0625+.125) + .25·(.25+.0625)
    # = 0.40625 -> kappa = 1 - 0.125/0.40625 = 9/13
    assert weighted_kappa([1, 2, 3, 1], [1, 3, 3, 2], [1, 2, 3]) == pytest.approx(9 / 13)
    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 40)
    b = np.clip(a + rng.integers(-1, 2, 40), 1, 5)
    table = np.zeros((5, 5))
    for x, y in zip(a, b, strict=True):
        table[x - 1, y - 1] += 1
    expected = cohens_kappa(table, wt="quadratic", return_results=False)
    assert weighted_kappa(list(a), list(b), [1, 2, 3, 4, 5]) == pytest.approx(expected)
    assert math.isnan(weighted_kappa([3, 3], [3, 3], [1, 2, 3, 4, 5]))


def test_alpha_matches_krippendorffs_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C:
    # 4 observers, 12 units, missing values; alpha nominal .743, ordinal .815, interval .849.
    n = None
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)
    assert math.isnan(krippendorff_alpha([[1, n], [n, 2]]))  # nothing pairable


def _rating(rater, item, left, right, preference, score_left=4, score_right=2, repeat_of=None):
    return Rating(
        session_id="s",
        rater_id=rater,
        item_id=item,
        app_id=item.split("~")[0],
        repeat_of=repeat_of,
        left_source=left,
        right_source=right,
        scores={
            "left": dict.fromkeys(CRITERIA, score_left),
            "right": dict.fromkeys(CRITERIA, score_right),
        },
        preference=preference,
        status="submitted",
    )


def test_summary_counts_wins_bias_consistency_and_agreement():
    ratings = []
    for rater in ("r1", "r2"):  # both prefer "model" on every item, wherever it sits
        ratings += [
            _rating(rater, "a", "model", "gold", "left"),
            _rating(rater, "b", "gold", "model", "right", 2, 4),
            _rating(rater, "c", "model", "gold", "left"),
            _rating(rater, "d", "gold", "model", "tie", 3, 3),
            _rating(rater, "a~repeat", "gold", "model", "right", 2, 4, repeat_of="a"),
        ]
    draft = _rating("r1", "e", "model", "gold", "left")
    ratings.append(dataclasses.replace(draft, status="draft"))  # drafts never count
    summary = summarize(ratings, ["model", "gold"])
    assert summary.n_submitted == 10 and summary.n_raters == 2
    model = summary.win_rates["model"]
    assert (model["wins"], model["losses"], model["ties"]) == (6, 0, 2)  # firsts only
    assert model["ci_low"] == pytest.approx(wilson_interval(6, 6)[0])
    assert summary.mean_scores["model"]["accuracy"] == pytest.approx((4 * 3 + 3) / 4)
    assert summary.left_bias["left"] == 4 and summary.left_bias["decided"] == 8
    assert summary.left_bias["p_value"] == pytest.approx(1.0)
    assert summary.self_consistency == {
        "pairs": 2,
        "preference_agreement": 1.0,
        "mean_abs_score_diff": 0.0,
    }
    assert summary.agreement["units"] == 4
    assert summary.agreement["kappa"]["preference"] == pytest.approx(1.0)
    assert summary.agreement["alpha"]["preference"] == pytest.approx(1.0)
    text = summary.to_markdown()
    assert "| model | 6 | 0 | 2 |" in text and "Inter-rater (2 raters, 4 shared items)" in text
