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
    import cetd_lib.reconstruction.score as score
    import cetd_lib.train.rloo_loop as rloo_loop

    # one nanmean: error analysis, the orchestra's scores and the RLOO loop's logs share it
    assert ea.nanmean is score.nanmean is rloo_loop.nanmean is nanmean
    assert nanmean([1.0, float("nan"), None, 3.0]) == 2.0
    assert math.isnan(nanmean([])) and math.isnan(nanmean([float("nan"), None]))
    assert nanmean(x for x in (0.25, 0.75)) == 0.5  # a generator, as the scores pass it
