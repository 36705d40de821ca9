"""Helpers that existed twice and drifted apart now exist once; these pin what they do."""

from __future__ import annotations

import math

import pytest

from cetd_lib.models.completions import completion_text
from cetd_lib.tracking.series import nanmean


def test_every_reward_reads_completions_with_the_one_completion_text():
    import cetd_lib.mutation_rl.rl as rl
    import cetd_lib.train.likelihood as likelihood
    import cetd_lib.train.reward as reward

    assert reward.completion_text is likelihood.completion_text is rl.completion_text
    assert rl.completion_text is completion_text


def test_completion_text_is_the_model_written_text():
    assert completion_text("1. It parses.") == "1. It parses."
    assert completion_text([{"role": "assistant", "content": "a"}]) == "a"
    assert completion_text([{"content": "no role"}]) == "no role"
    # a tool's turn between two assistant turns is not the model's text (rl.py used to join it)
    turns = [
        {"role": "assistant", "content": "def test_a():"},
        {"role": "tool", "content": "TOOL OUTPUT"},
        {"role": "assistant", "content": "\n    assert a()"},
    ]
    assert completion_text(turns) == "def test_a():\n    assert a()"
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text([]) == ""
    with pytest.raises(TypeError, match="completion of type int"):
        completion_text(3)
    with pytest.raises(TypeError, match="list of chat messages"):
        completion_text(["not a message"])


def test_nanmean_leaves_out_nan_and_none_and_is_nan_when_nothing_is_left():
    import cetd_lib.evaluation.error_analysis as ea
    from cetd_lib.reconstruction.score import nanmean as harness_nanmean

    assert ea.nanmean is nanmean  # error analysis's private copy is gone
    assert nanmean([1.0, float("nan"), None, 3.0]) == 2.0
    assert math.isnan(nanmean([])) and math.isnan(nanmean([float("nan"), None]))
    # reconstruction.score's copy agrees on floats
    for values in ([0.5, float("nan"), 1.0], [float("nan")], [0.25]):
        a, b = nanmean(values), harness_nanmean(values)
        assert a == b or (math.isnan(a) and math.isnan(b))
