"""The likelihood reward on a fake orchestra: the guard first, the signature-only baseline
scored once per app, gold's gain as the cap, and the line-by-line paraphrase red team."""

from __future__ import annotations

import math

import pytest

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.humaneval import load_humaneval_apps
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.apps.signatures import signature_items
from cetd_lib.reconstruction.likelihood import code_answer
from cetd_lib.train.config import GuardConfig, Stage2Config
from cetd_lib.train.guard import code_tokens
from cetd_lib.train.likelihood import (
    make_likelihood_reward,
    make_stage2_reward,
    sum_rewards,
)
from cetd_lib.train.redteam import paraphrase


class TokenOverlapScorer:
    """A judge that reads content: each answer token is likely (p 0.9) when the prompt holds
    it, else unlikely (p 0.1); the score is the mean log-prob per answer token. Records every
    (prompt, answer) pair it scores."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def score(self, prompts, answers):
        out = []
        for prompt, answer in zip(prompts, answers, strict=True):
            text = prompt.messages[-1]["content"]
            self.calls.append((prompt.app_id, text))
            seen = {t.lower() for t in code_tokens(text)}
            tokens = [t.lower() for t in code_tokens(answer)]
            out.append(sum(math.log(0.9 if t in seen else 0.1) for t in tokens) / len(tokens))
        return out


def _app(name: str, factor: int) -> App:
    return App(
        name,
        {f"{name}.py": f'def {name}(x):\n    """Docstring words."""\n'
                       f"    return x * FACTOR_{factor}\n\nFACTOR_{factor} = {factor}\n"},
        {f"test_{name}.py": f"from {name} import {name}\n\ndef test_it():\n    assert {name}(1)\n"},
        (f"`{name}.py` defines the function `{name}(x)`.",
         f"It returns x times the module constant `FACTOR_{factor}`, which is {factor}.",
         "It never prints."),
    )  # fmt: skip


APPS = {a.app_id: a for a in (_app("scale", 7), _app("grow", 9))}


def _reward(apps=APPS, **kwargs):
    scorer = TokenOverlapScorer()
    return make_likelihood_reward(apps, scorer, GuardConfig(), **kwargs), scorer


def test_gold_gains_signature_only_gains_nothing_and_another_apps_gold_loses():
    reward, _ = _reward()
    scale, grow = APPS["scale"], APPS["grow"]
    texts = [
        format_requirements(scale.requirements),
        format_requirements(signature_items(scale)),
        format_requirements(grow.requirements),  # another app's gold
    ]
    gold, signature, shuffled = reward(None, texts, app_id=["scale"] * 3)
    assert gold > 0 and gold == pytest.approx(reward.ceilings["scale"])
    assert signature == 0.0
    assert shuffled < gold
    stats = reward.log.latest()
    assert stats["guard/pass_share"] == 1.0
    assert "Docstring" not in code_answer(scale)  # scored on the stripped code


def test_guard_first_and_the_baseline_scored_once_per_app():
    reward, scorer = _reward()
    gold = format_requirements(APPS["scale"].requirements)
    leaked = "1. Here is the code:\n```python\ndef scale(x):\n    return x * FACTOR_7\n```"
    first = reward(None, [gold, leaked], app_id=["scale", "scale"])
    assert first[1] == 0.0  # rejected: reject_reward, never scored
    # 2 per-app constants (signature-only baseline, gold for the cap) + 1 accepted sample
    assert len(scorer.calls) == 3 and all(
        "def scale(x):\n    return" not in t for _, t in scorer.calls
    )
    second = reward(None, [gold, gold], app_id=["scale", "scale"])
    assert len(scorer.calls) == 5  # the constants are not scored again
    assert second == [first[0], first[0]]
    assert reward.baselines.keys() == {"scale"}


def _paraphrase_case(app: App, guard: GuardConfig, cap: str) -> tuple[float, float, bool]:
    reward = make_likelihood_reward({app.app_id: app}, TokenOverlapScorer(), guard, cap=cap)
    gold, para = reward(
        None, [format_requirements(app.requirements), paraphrase(app)], app_id=[app.app_id] * 2
    )
    return gold, para, reward.log.latest()["guard/pass_share"] == 1.0


@pytest.mark.parametrize("source", ["bundled", "humaneval"])
def test_red_team_line_by_line_paraphrase_does_not_beat_gold_after_the_guard(source):
    app = (
        {a.app_id: a for a in load_apps(None)}["roman_numerals"]
        if source == "bundled"
        else load_humaneval_apps()[0]
    )
    # without guard and cap, teacher forcing pays the paraphrase above gold: the hole
    gold, para, _ = _paraphrase_case(app, GuardConfig(enabled=False), cap="none")
    assert para > gold
    gold, para, accepted = _paraphrase_case(app, GuardConfig(), cap="gold")
    if source == "bundled":
        assert not accepted and para == 0.0  # the guard rejects it (long code: LCS)
    else:
        assert accepted  # a short program: the guard's documented hole lets it through
        assert para == pytest.approx(gold)  # the cap stops it at gold's gain
    assert para <= gold


def test_stage2_reward_choice():
    assert Stage2Config().reward == "pass_rate"
    calls = []

    def pass_rate():
        def fn(prompts, completions, app_id=None, **kw):
            calls.append(len(completions))
            return [0.5] * len(completions)

        return fn

    assert make_stage2_reward("pass_rate", APPS, pass_rate=pass_rate, scorer=None)(
        None, ["x"], app_id=["scale"]
    ) == [0.5]
    with pytest.raises(ValueError, match="needs an AnswerScorer"):
        make_stage2_reward("likelihood", APPS, pass_rate=pass_rate, scorer=None)
    both = make_stage2_reward("both", APPS, pass_rate=pass_rate, scorer=TokenOverlapScorer())
    gold = format_requirements(APPS["scale"].requirements)
    (value,) = both(None, [gold], app_id=["scale"])
    likelihood_part = both.parts[1].ceilings["scale"]  # gold's gain
    assert value == pytest.approx(0.5 + likelihood_part)
    assert sum_rewards(pass_rate(), lambda p, c, **k: [None])(None, ["x"]) == [None]


def test_an_over_long_list_keeps_only_its_share_of_a_positive_gain():
    reward, _ = _reward()
    gold_items = list(APPS["scale"].requirements)
    padded = gold_items + [f"Filler sentence number {i} says nothing new." for i in range(30)]
    full, over = reward(None, [format_requirements(gold_items), format_requirements(padded)],
                        app_id=["scale", "scale"])  # fmt: skip
    verdict = reward.log.steps[-1][1].verdict
    assert "too_many_items" in verdict.rules and verdict.multiplier < 1
    assert over == pytest.approx(full * verdict.multiplier)


def test_the_likelihood_reward_needs_one_app_id_per_completion():
    reward, _ = _reward()
    with pytest.raises(ValueError, match="likelihood reward needs an `app_id` column"):
        reward(None, ["1. a list"])
    with pytest.raises(ValueError, match=r"got 2 for 1"):
        reward(None, ["1. a list"], app_id=[next(iter(APPS))] * 2)


def test_stage2_scores_with_the_first_orchestra_member():
    """`stage2.reward: likelihood | both` builds its judge on the orchestra's first member (the
    one the calibration scored with); no member is a clear error, not a silent pass-rate run."""
    from cetd_lib.reconstruction.likelihood import SCORERS, register_scorer
    from cetd_lib.studies.phase2_training import _orchestra_scorer

    register_scorer("overlap-test")(lambda backend: (backend, TokenOverlapScorer()))
    try:
        backend, scorer = _orchestra_scorer("overlap-test", {"first": "B1", "second": "B2"})
        assert backend == "B1" and isinstance(scorer, TokenOverlapScorer)
        with pytest.raises(ValueError, match="needs an orchestra member"):
            _orchestra_scorer("overlap-test", {})
        with pytest.raises(KeyError, match="not registered"):
            _orchestra_scorer("no-such-judge", {"first": "B1"})
    finally:
        del SCORERS["overlap-test"]
    assert Stage2Config().likelihood_scorer == "teacher_forced"


def test_rewards_are_callable_objects_trl_names_by_their_reward():
    """TRL 1.16 names a reward function `getattr(f, "__name__", type(f).__name__)`
    (trl.trainer.utils.get_callable_name): the names give the logged keys
    rewards/<name>/..., so each reward object carries its own, and none is async."""
    from trl.trainer.utils import get_callable_name, is_async_callable

    from cetd_lib.train.likelihood import LikelihoodReward, SumReward
    from cetd_lib.train.reward import ReconstructionReward, make_reconstruction_reward

    reconstruction = make_reconstruction_reward(
        APPS, reconstruct_fn=lambda apps, lists: [0.25] * len(apps)
    )
    likelihood, _ = _reward()
    both = sum_rewards(reconstruction, likelihood)
    for name, reward, cls in [
        ("reconstruction", reconstruction, ReconstructionReward),
        ("likelihood", likelihood, LikelihoodReward),
        ("both", both, SumReward),
    ]:
        assert isinstance(reward, cls) and get_callable_name(reward) == name
        assert not is_async_callable(reward)
    assert both.log is reconstruction.log and both.parts == (reconstruction, likelihood)
    gold = format_requirements(APPS["scale"].requirements)
    (value,) = both(None, [gold], app_id=["scale"])
    assert value == pytest.approx(0.25 + likelihood.ceilings["scale"])
    assert len(reconstruction.log.steps) == len(likelihood.log.steps) == 1
