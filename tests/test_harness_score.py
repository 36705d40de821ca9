"""pass@k against hand-computed numbers, labels, and orchestra statistics."""

from __future__ import annotations

import math
from math import comb

import numpy as np
import pytest

from cetd_lib.reconstruction.score import (
    FULL,
    NO,
    PARTIAL,
    UNSCORED,
    SampleScore,
    completeness,
    estimate_pass_at_k,
    pass_at_k,
    sample_score,
    score_app,
    score_orchestra,
)
from cetd_lib.sandbox.results import TestOutcome


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (2, 1, 1, 0.5),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 0, 5, 0.0),
        (10, 6, 5, 1.0),  # n - c < k: every k-subset holds a correct sample
    ],
)
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_equals_the_binomial_definition():
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact)


def test_pass_at_1_is_the_fraction_correct():
    assert pass_at_k(20, 7, 1) == pytest.approx(7 / 20)


def test_pass_at_k_rejects_impossible_inputs():
    with pytest.raises(ValueError, match="n >= k"):
        pass_at_k(2, 1, 3)
    with pytest.raises(ValueError, match="c <= n"):
        pass_at_k(2, 3, 1)


def test_estimate_pass_at_k_vectorised():
    np.testing.assert_allclose(estimate_pass_at_k(4, [0, 1, 4], 2), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(estimate_pass_at_k([2, 5], [1, 2], 2), [1.0, 0.7])


def test_completeness_labels():
    assert [completeness(x) for x in (1.0, 0.5, 0.0, float("nan"))] == [FULL, PARTIAL, NO, UNSCORED]


def _sample(member, sample, rate):
    return SampleScore("app", member, sample, rate, 0, 4)


def test_score_app_per_member_and_pass_at_k():
    samples = [
        _sample("a", 0, 1.0),
        _sample("a", 1, 0.5),
        _sample("a", 2, 1.0),
        _sample("b", 0, 0.0),
        _sample("b", 1, float("nan")),
        _sample("b", 2, 0.0),
    ]
    score = score_app("app", 4, samples, ["a", "b"], k_values=(1, 2, 5))
    assert score.member_pass_rate == {"a": pytest.approx(2.5 / 3), "b": 0.0}
    assert score.pass_rate == pytest.approx(2.5 / 6)
    assert score.label == PARTIAL
    assert score.member_label == {"a": PARTIAL, "b": NO}
    assert score.pass_at_k["a"] == {"pass@1": pytest.approx(2 / 3), "pass@2": 1.0}  # no pass@5
    assert score.pass_at_k["b"] == {"pass@1": 0.0, "pass@2": 0.0}  # n = 2 scored samples
    assert score.n_harness_errors == 1


def test_score_orchestra_mean_and_variance_across_members():
    apps = [
        score_app(
            "x",
            1,
            [SampleScore("x", "a", 0, 1.0, 1, 1), SampleScore("x", "b", 0, 0.0, 0, 1)],
            ["a", "b"],
        ),
        score_app(
            "y",
            1,
            [SampleScore("y", "a", 0, 1.0, 1, 1), SampleScore("y", "b", 0, 0.5, 1, 2)],
            ["a", "b"],
        ),
    ]
    orchestra = score_orchestra(apps, ["a", "b"])
    assert orchestra.member_mean == {"a": 1.0, "b": 0.25}
    assert orchestra.mean == pytest.approx(0.625)
    assert orchestra.variance == pytest.approx(((1 - 0.625) ** 2 + (0.25 - 0.625) ** 2) / 2)
    assert orchestra.label_counts == {FULL: 0, PARTIAL: 2, NO: 0, UNSCORED: 0}
    metrics = orchestra.metrics()
    assert metrics["reconstruction/pass_rate/mean"] == pytest.approx(0.625)
    assert metrics["reconstruction/a/pass@1"] == 1.0
    assert orchestra.to_dict()["apps"][0]["app_id"] == "x"


def test_sample_score_marks_harness_errors_nan():
    good = {"t::a": TestOutcome(True), "t::b": TestOutcome(False, "ASSERTION_FAILURE", "failed")}
    score = sample_score("app", "m", 0, good)
    assert (score.pass_rate, score.n_passed, score.n_tests) == (0.5, 1, 2)
    assert score.failure_counts == {"ASSERTION_FAILURE": 1}
    broken = dict(good, **{"t::c": TestOutcome(False, "HARNESS_ERROR", "not_run")})
    assert math.isnan(sample_score("app", "m", 0, broken).pass_rate)
