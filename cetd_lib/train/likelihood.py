"""A dense stage-2 reward: how much more likely the requirements make the app's own code.

    reward = make_likelihood_reward(apps_by_id, scorer, GuardConfig())
    reward(prompts, completions, app_id=[...])       # TRL reward shape -> list[float | None]

For a sampled list L of app a, with the orchestra as a frozen judge (`AnswerScorer`):

    gain(L) = lp(code_a | prompt(L)) - lp(code_a | prompt(signature_only(a)))

where lp is the teacher-forced mean log-probability per answer token of the app's original
code with its comments and docstrings stripped (HumanEval's source carries its own docstring,
which gold paraphrases), written as the reconstruction prompt asks for it. This is the
likelihood-improvement reward of VR-CLI (Gurung & Lapata, 2025) with a frozen judge: one
forward pass per sample, no sampling, no tests. The baseline (signature-only) is scored once
per app. Then

    reward(L) = reject_reward                   if the guard rejects L (never scored)
              = min(gain(L), gain(gold_a))      else (cap: "gold", default),
                times the guard's length-budget multiplier when positive

The cap is the red team's answer: teacher forcing pays for any text that contains the code's
tokens in order, so a list that paraphrases the code line by line can score far above gold
while passing the guard on short programs (docs/training.md measures the guard's hole); above
gold the reward stops growing. `likelihood_cap: none` lifts it. The gold gain is scored once
per app too.

The scorer protocol and the scored answer live in `reconstruction.likelihood` (the calibration uses
them too); this module is the reward. The scorer itself (a model's forward pass) lives with
the models. `pass_rate`, `likelihood` or `both` (their sum) is chosen by
`stage2.reward` (`make_stage2_reward`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cetd_lib.apps.app import App
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.apps.signatures import signature_items
from cetd_lib.metrics.bleu import sentence_bleu
from cetd_lib.models.completions import completion_text
from cetd_lib.reconstruction.likelihood import AnswerScorer, code_answer, likelihood_gain
from cetd_lib.reconstruction.prompts import PROMPT_VERSION, Prompt, build_prompt
from cetd_lib.train.config import GuardConfig
from cetd_lib.train.guard import AppFingerprint, check_requirements, fingerprint
from cetd_lib.train.reward import RewardLog, RewardRecord, require_app_ids, summarize

log = logging.getLogger(__name__)


class LikelihoodReward:
    """The likelihood reward as TRL calls it: `(prompts, completions, app_id=[...], **kw) ->
    list[float]`, paying `likelihood_gain` (module docstring). `.log` is a `RewardLog` whose
    records carry the gain as `reward` (pass_rate None: nothing is rebuilt); `.baselines` and
    `.ceilings` the per-app constants scored so far. `cap`: "gold" or "none". TRL names it by
    its `__name__`: "likelihood".
    """

    def __init__(
        self,
        apps_by_id: Mapping[str, App],
        scorer: AnswerScorer,
        guard_config: GuardConfig | None = None,
        *,
        prompt_version: str = PROMPT_VERSION,
        cap: str = "gold",
    ) -> None:
        if cap not in ("gold", "none"):
            raise ValueError(f"likelihood cap {cap!r}: expected 'gold' or 'none'")
        self.__name__ = "likelihood"
        self.apps_by_id, self.scorer, self.cap = apps_by_id, scorer, cap
        self.prompt_version = prompt_version
        self.guard_config = guard_config or GuardConfig()
        self.log = RewardLog()
        self.baselines: dict[str, float] = {}  # app_id -> lp given signature_only, scored once
        self.ceilings: dict[str, float] = {}  # app_id -> gold's gain, scored once
        self._fingerprints: dict[str, AppFingerprint] = {}
        self._answers: dict[str, str] = {}

    def _prompt(self, app: App, items: Sequence[str]) -> Prompt:
        return build_prompt(app, list(items), self.prompt_version)

    def _prepare(self, app_ids: Sequence[str]) -> None:
        """Score the per-app constants (baseline, and gold for the cap) of new apps, batched."""
        new = [a for a in dict.fromkeys(app_ids) if a not in self.baselines]
        if not new:
            return
        apps = [self.apps_by_id[a] for a in new]
        for app in apps:
            self._answers[app.app_id] = code_answer(app)
        gold = self.cap == "gold"
        lists = [signature_items] + ([lambda app: app.requirements] if gold else [])
        pairs = [
            (self._prompt(app, items(app)), self._answers[app.app_id])
            for items in lists
            for app in apps
        ]
        scores = self.scorer.score([p for p, _ in pairs], [a for _, a in pairs])
        for i, app in enumerate(apps):
            self.baselines[app.app_id] = scores[i]
            if gold:
                self.ceilings[app.app_id] = scores[len(apps) + i] - scores[i]

    def __call__(
        self,
        prompts: Sequence[Any] | None,
        completions: Sequence[Any],
        app_id: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        apps_by_id, guard = self.apps_by_id, self.guard_config
        app_id = require_app_ids("likelihood", app_id, completions)
        unknown = sorted(set(app_id) - set(apps_by_id))
        if unknown:
            raise KeyError(f"app_id {unknown[0]!r} is not among the {len(apps_by_id)} reward apps")
        texts = [completion_text(c) for c in completions]
        verdicts = []
        for aid, text in zip(app_id, texts, strict=True):
            if aid not in self._fingerprints:
                self._fingerprints[aid] = fingerprint(apps_by_id[aid], guard)
            verdicts.append(check_requirements(text, self._fingerprints[aid], guard))
        # The guard runs first: a rejected text is never scored (no forward pass, reject_reward)
        accepted = [i for i, v in enumerate(verdicts) if v.accepted]
        started = time.perf_counter()
        self._prepare([app_id[i] for i in accepted])
        scores = self.scorer.score(
            [self._prompt(apps_by_id[app_id[i]], verdicts[i].items) for i in accepted],
            [self._answers[app_id[i]] for i in accepted],
        ) if accepted else []  # fmt: skip
        scored = dict(zip(accepted, scores, strict=True))
        seconds = time.perf_counter() - started
        records = []
        for i, (aid, text, verdict) in enumerate(zip(app_id, texts, verdicts, strict=True)):
            if i in scored:
                reward = likelihood_gain(scored[i], self.baselines[aid], self.ceilings.get(aid))
                if reward > 0:  # the length budget, as for the pass rate: a gain shrinks
                    reward *= verdict.multiplier
            else:
                reward = guard.reject_reward
            gold = format_requirements(apps_by_id[aid].requirements)
            records.append(
                RewardRecord(aid, reward, None, verdict, text, sentence_bleu(text, gold))
            )
        self.log.add(records, seconds)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            stats = summarize(records)
            for name in ("guard/pass_share", "guard/leak_rate"):
                if not math.isnan(stats[name]):
                    log_metric(name, stats[name])
            spread = stats["rewards/reconstruction/within_group_std"]
            if not math.isnan(spread):
                log_metric("rewards/likelihood/within_group_std", spread)
        return [r.reward for r in records]


def make_likelihood_reward(
    apps_by_id: Mapping[str, App],
    scorer: AnswerScorer,
    guard_config: GuardConfig | None = None,
    *,
    prompt_version: str = PROMPT_VERSION,
    cap: str = "gold",
) -> LikelihoodReward:
    """A `LikelihoodReward` (TRL's reward-function protocol; see the class)."""
    return LikelihoodReward(
        apps_by_id, scorer, guard_config, prompt_version=prompt_version, cap=cap
    )


def make_stage2_reward(
    kind: str,
    apps_by_id: Mapping[str, App],
    *,
    pass_rate: Callable[[], Callable[..., list[float | None]]],
    scorer: AnswerScorer | None,
    guard_config: GuardConfig | None = None,
    prompt_version: str = PROMPT_VERSION,
    cap: str = "gold",
) -> Callable[..., list[float | None]]:
    """`stage2.reward`: "pass_rate" (the reconstruction reward, built by `pass_rate()`),
    "likelihood" (`make_likelihood_reward`) or "both" (their sum)."""
    if kind == "pass_rate":
        return pass_rate()
    if scorer is None:
        raise ValueError(
            f"stage2.reward={kind!r} needs an AnswerScorer (cetd_lib.train.likelihood): pass "
            "scorer= to run_phase2_training, or set stage2.reward: pass_rate"
        )
    likelihood = make_likelihood_reward(
        apps_by_id, scorer, guard_config, prompt_version=prompt_version, cap=cap
    )
    if kind == "likelihood":
        return likelihood
    if kind == "both":
        return sum_rewards(pass_rate(), likelihood)
    raise ValueError(f"stage2.reward={kind!r}: expected pass_rate, likelihood or both")


class SumReward:
    """One reward paying the sum of `parts` (None where any is None: not measured). `.log` is
    the first part's log; TRL names it by `__name__` (`name`)."""

    def __init__(self, *parts: Callable[..., list[float | None]], name: str = "both") -> None:
        self.__name__ = name
        self.parts = parts
        self.log = getattr(parts[0], "log", None)

    def __call__(
        self, prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        values = [fn(prompts, completions, **kwargs) for fn in self.parts]
        return [
            None if any(v is None for v in row) else float(sum(row))
            for row in zip(*values, strict=True)
        ]


def sum_rewards(*rewards: Callable[..., list[float | None]], name: str = "both") -> SumReward:
    """A `SumReward` of `rewards`."""
    return SumReward(*rewards, name=name)
