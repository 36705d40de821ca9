"""The stage-2 reward: pass rate of code rebuilt from sampled requirements, behind a leak guard.

    reward = make_reconstruction_reward(apps_by_id, backends, harness, GuardConfig())
    reward(prompts, completions, app_id=[...])       # TRL reward shape -> list[float | None]
    reward.log.latest()                              # guard and reward statistics of the call

Why a guard: the reconstructor rebuilds code from the requirements alone, so an extractor that
pastes the code (or the expected values of the tests) into its "requirements" would be paid in
full for copying. Every text is checked BEFORE reconstruction by `cetd_lib.train.guard` (LCS
share of the stripped code, code statements anywhere in a line, encoded payloads, copied test
values, a length budget); a rejected text never reaches the reconstructor and scores
`reject_reward`. The guard is a filter calibrated on data, not a proof of no leakage: what it
does not stop is listed in its module docstring and docs/training.md.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cetd_lib.apps.app import App
from cetd_lib.apps.requirements import format_requirements
from cetd_lib.metrics.bleu import sentence_bleu
from cetd_lib.models.completions import completion_text
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.sandbox.cache import ResultCache
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.train.config import GuardConfig
from cetd_lib.train.guard import (  # noqa: F401  (re-exported: the reward's public surface)
    LEAK_RULES,
    RULES,
    AppFingerprint,
    GuardVerdict,
    check_requirements,
    code_tokens,
    count_code_fragments,
    fingerprint,
    literals,
)

log = logging.getLogger(__name__)

ReconstructFn = Callable[[Sequence[App], Sequence[Sequence[str]]], list[float | None]]


# ---------------------------------------------------------------------------------------------
# Statistics per reward call
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardRecord:
    app_id: str
    reward: float | None
    pass_rate: float | None  # before the budget multiplier; None when not reconstructed
    verdict: GuardVerdict
    text: str
    bleu: float = float("nan")  # sentence BLEU of the text vs the app's gold requirements


@dataclass
class RewardLog:
    """Every reward call's records; `latest()` / `stats(i)` give the per-step metrics.
    `reconstruct_s[i]`: seconds call i spent rebuilding apps (the orchestra and the harness),
    what a trainer reports as the reconstruction share of its wall time."""

    steps: list[list[RewardRecord]] = field(default_factory=list)
    reconstruct_s: list[float] = field(default_factory=list)

    def add(self, records: list[RewardRecord], reconstruct_s: float = 0.0) -> None:
        self.steps.append(records)
        self.reconstruct_s.append(reconstruct_s)

    def stats(self, index: int = -1) -> dict[str, float]:
        """Metrics of one call, keys grouped by prefix; means skip None/NaN."""
        records = self.steps[index] if self.steps else []
        return summarize(records)

    def latest(self) -> dict[str, float]:
        return self.stats(-1)

    def guard_pass_share(self) -> float:
        """Share of all sampled texts so far that the guard accepted (NaN before any call)."""
        records = [r for step in self.steps for r in step]
        return sum(r.verdict.accepted for r in records) / len(records) if records else math.nan

    def rejections(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(app_id, rules, first 200 characters) of every rejected text so far."""
        return [
            (r.app_id, r.verdict.rules, r.text[:200])
            for step in self.steps
            for r in step
            if not r.verdict.accepted
        ]


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(statistics.fmean(kept)) if kept else float("nan")


def _std(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(statistics.pstdev(kept)) if len(kept) > 1 else (0.0 if kept else float("nan"))


def _within_group_std(records: Sequence[RewardRecord]) -> float:
    """Mean over apps of the population std of the rewards that app's samples got."""
    groups: dict[str, list[float | None]] = {}
    for r in records:
        groups.setdefault(r.app_id, []).append(r.reward)
    return _mean([_std(rewards) for rewards in groups.values()])


def summarize(records: Sequence[RewardRecord]) -> dict[str, float]:
    n = len(records)
    out = {
        "rewards/reconstruction/mean": _mean([r.reward for r in records]),
        "rewards/reconstruction/std": _std([r.reward for r in records]),
        # RLOO/GRPO learn from differences inside an app's group of samples: 0 here is no signal
        "rewards/reconstruction/within_group_std": _within_group_std(records),
        "rewards/pass_rate": _mean([r.pass_rate for r in records]),
        "guard/leak_rate": sum(r.verdict.leak for r in records) / n if n else float("nan"),
        "guard/reject_rate": (
            sum(not r.verdict.accepted for r in records) / n if n else float("nan")
        ),
        "guard/pass_share": sum(r.verdict.accepted for r in records) / n if n else float("nan"),
        "guard/compression_ratio": _mean([r.verdict.compression_ratio for r in records]),
        "guard/items": _mean([float(len(r.verdict.items)) for r in records]),
        "guard/none_rate": sum(r.reward is None for r in records) / n if n else float("nan"),
        "eval/bleu": _mean([r.bleu for r in records]),
    }
    for rule in RULES:
        out[f"guard/rule/{rule}"] = float(sum(rule in r.verdict.rules for r in records))
    return out


# ---------------------------------------------------------------------------------------------
# The reward function
# ---------------------------------------------------------------------------------------------


def require_app_ids(
    reward: str, app_id: Sequence[str] | None, completions: Sequence[Any]
) -> Sequence[str]:
    """The dataset's `app_id` column, one id per completion, or a ValueError saying so."""
    if app_id is None or len(app_id) != len(completions):
        raise ValueError(
            f"the {reward} reward needs an `app_id` column with one id per completion "
            f"(got {None if app_id is None else len(app_id)} for {len(completions)}); add "
            "it to the training dataset"
        )
    return app_id


def orchestra_pass_rates(
    apps: Sequence[App],
    requirement_lists: Sequence[Sequence[str]],
    *,
    orchestra: OrchestraConfig | None = None,
    backends: Mapping[str, Any] | None = None,
    harness: HarnessConfig | None = None,
    cache: ResultCache | Literal["config"] | None = "config",
) -> list[float | None]:
    """Mean pass rate over orchestra members and samples of each app rebuilt from its list.

    One batched `generate` per member over all lists, then one `reward_pass_rates` call (the
    harness caches runs of identical code). None when no member produced a measurable result.
    """
    from cetd_lib.reconstruction.backends import generate_or_none, make_backend
    from cetd_lib.reconstruction.prompts import build_prompt
    from cetd_lib.reconstruction.reconstruct import reward_pass_rates

    orchestra = orchestra or OrchestraConfig()
    harness = harness or HarnessConfig()
    prompts = [
        build_prompt(app, list(items), orchestra.prompt_version)
        for app, items in zip(apps, requirement_lists, strict=True)
    ]
    per_app: list[list[float]] = [[] for _ in apps]
    if not prompts:
        return []
    for spec in orchestra.members:
        backend = (backends or {}).get(spec.name) or make_backend(spec)
        completions = generate_or_none(
            backend,
            prompts,
            n=orchestra.n_samples,
            temperature=orchestra.temperature,
            max_new_tokens=orchestra.max_new_tokens,
            seed=orchestra.seed,
            top_p=orchestra.top_p,
        )
        if completions is None:
            continue  # logged as HARNESS_ERROR; this member measures nothing (None, never 0)
        flat_apps = [app for app, group in zip(apps, completions, strict=True) for _ in group]
        flat = [text for group in completions for text in group]
        owners = [i for i, group in enumerate(completions) for _ in group]
        kwargs = {} if cache == "config" else {"cache": cache}
        rates = reward_pass_rates(flat_apps, flat, config=harness, **kwargs)
        for i, rate in zip(owners, rates, strict=True):
            if rate is not None:
                per_app[i].append(rate)
    return [float(statistics.fmean(r)) if r else None for r in per_app]


class ReconstructionReward:
    """The reconstruction reward as TRL calls it: `(prompts, completions, app_id=[...], **kw)
    -> list[float | None]`.

    reward = 0 (`reject_reward`) if the guard rejects the text (never reconstructed), else
    pass_rate(rebuild(requirements)) x budget multiplier; None when the harness could not
    measure the app (TRL's "not applicable"). `reconstruct_fn(apps, requirement_lists)`
    replaces the orchestra (tests inject a fake). `.log` is a `RewardLog`; under TRL the
    per-call statistics also go to the trainer's logs via `log_metric`. TRL names a reward
    by its `__name__` (`trl.trainer.utils.get_callable_name`): "reconstruction", which makes
    its logged keys `rewards/reconstruction/...`.
    """

    def __init__(
        self,
        apps_by_id: Mapping[str, App],
        orchestra_backends: Mapping[str, Any] | None = None,
        harness_config: HarnessConfig | None = None,
        guard_config: GuardConfig | None = None,
        *,
        orchestra: OrchestraConfig | None = None,
        reconstruct_fn: ReconstructFn | None = None,
        cache: ResultCache | Literal["config"] | None = "config",
    ) -> None:
        self.__name__ = "reconstruction"
        self.apps_by_id = apps_by_id
        self.guard_config = guard_config or GuardConfig()
        self.log = RewardLog()
        if reconstruct_fn is None:

            def reconstruct_fn(apps, lists):
                return orchestra_pass_rates(
                    apps,
                    lists,
                    orchestra=orchestra,
                    backends=orchestra_backends,
                    harness=harness_config,
                    cache=cache,
                )

        self.reconstruct_fn = reconstruct_fn
        # at temperature 0 the same list rebuilds the same way: rebuild it once
        self.deterministic = orchestra is None or getattr(orchestra, "temperature", 0.0) == 0.0
        self._fingerprints: dict[str, AppFingerprint] = {}
        self._memo: dict[tuple[str, tuple[str, ...]], float | None] = {}

    def __call__(
        self,
        prompts: Sequence[Any] | None,
        completions: Sequence[Any],
        app_id: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        apps_by_id, guard, memo = self.apps_by_id, self.guard_config, self._memo
        app_id = require_app_ids("reconstruction", app_id, completions)
        texts = [completion_text(c) for c in completions]
        verdicts = []
        for aid, text in zip(app_id, texts, strict=True):
            if aid not in apps_by_id:
                raise KeyError(f"app_id {aid!r} is not among the {len(apps_by_id)} reward apps")
            if aid not in self._fingerprints:
                self._fingerprints[aid] = fingerprint(apps_by_id[aid], guard)
            verdicts.append(check_requirements(text, self._fingerprints[aid], guard))
        # Rejection happens here, BEFORE reconstruction: leaked text never reaches the model.
        todo = sorted(
            {
                (aid, tuple(v.items))
                for aid, v in zip(app_id, verdicts, strict=True)
                if v.accepted and (not self.deterministic or (aid, tuple(v.items)) not in memo)
            }
        )
        started = time.perf_counter()
        if todo:
            rates = self.reconstruct_fn(
                [apps_by_id[a] for a, _ in todo], [list(i) for _, i in todo]
            )
            memo.update(zip(todo, rates, strict=True))
        reconstruct_s = time.perf_counter() - started
        records = []
        for aid, text, v in zip(app_id, texts, verdicts, strict=True):
            if not v.accepted:
                rate, reward = None, guard.reject_reward
            else:
                rate = memo[(aid, tuple(v.items))]
                reward = None if rate is None else rate * v.multiplier
            gold = format_requirements(apps_by_id[aid].requirements)
            records.append(RewardRecord(aid, reward, rate, v, text, sentence_bleu(text, gold)))
        if not self.deterministic:
            memo.clear()
        self.log.add(records, reconstruct_s)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):  # TRL logs its own reward mean/std; add what it cannot know
            for name, value in summarize(records).items():
                # TRL's reward_std includes beta x KL (RLOO folds it into the reward): the task
                # reward's own within-group spread is what says whether a step had signal
                wanted = name.startswith("guard/") or name in (
                    "rewards/pass_rate",
                    "rewards/reconstruction/within_group_std",
                    "eval/bleu",
                )
                if wanted and not math.isnan(value):
                    log_metric(name, value)
        return [r.reward for r in records]


def make_reconstruction_reward(
    apps_by_id: Mapping[str, App],
    orchestra_backends: Mapping[str, Any] | None = None,
    harness_config: HarnessConfig | None = None,
    guard_config: GuardConfig | None = None,
    *,
    orchestra: OrchestraConfig | None = None,
    reconstruct_fn: ReconstructFn | None = None,
    cache: ResultCache | Literal["config"] | None = "config",
) -> ReconstructionReward:
    """A `ReconstructionReward` (TRL's reward-function protocol; see the class).

    >>> from cetd_lib.apps.app import App
    >>> app = App("one", {"m.py": "def f(x):\\n    return x * 2 + 1\\n"}, {"t.py": "x = 1"},
    ...           ("f doubles x and adds one.",))
    >>> fake = lambda apps, lists: [1.0 for _ in apps]
    >>> reward = make_reconstruction_reward({"one": app}, reconstruct_fn=fake)
    >>> reward(None, ["1. f doubles x and adds one.", "```python\\ndef f(x): ...\\n```"],
    ...        app_id=["one", "one"])
    [1.0, 0.0]
    """
    return ReconstructionReward(
        apps_by_id,
        orchestra_backends,
        harness_config,
        guard_config,
        orchestra=orchestra,
        reconstruct_fn=reconstruct_fn,
        cache=cache,
    )
