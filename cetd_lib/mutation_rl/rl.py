"""RL from mutation testing: a policy writes pytest files, the reward is their kill rate.

    reward = make_kill_rate_reward(targets, MutationConfig(max_mutants=30))
    reward(prompts, completions, target_id=[...])     # TRL reward shape -> list[float | None]
    reward.last_infos                                 # per completion: killed, failure class ...
    result = train_mutation_rl(model, tokenizer, train_targets, reward, MutationRLConfig(), out)
    summary = run_mutation_rl(config, run, harness=..., dashboard=...)  # held-out before/after

The reward of a generated test file for a module is its mutation kill rate in [0, 1]
(`cetd_lib.mutation`): 0 when the file does not parse, does not collect, or has a test that
fails on the ORIGINAL module (a test that fails on correct code would "kill" every mutant for
free), and 0 when it is *source-coupled*: it fails on one of `MutationConfig.
equivalent_variants` behaviour-preserving variants of the module (the prompt holds the source,
so `assert inspect.getsource(m) == "..."` would otherwise kill every mutant); the failure class
stays in `last_infos` and the coupled share is logged as `kill_rate/source_coupled`. None
(TRL: not applicable) only when the instrument failed (HARNESS_ERROR) or the module has no
mutants.

Trainers: TRL's `RLOOTrainer` (REINFORCE with the leave-one-out baseline) or `GRPOTrainer`
with `num_iterations > 1`, clipping `epsilon` and `beta > 0` (the clipped surrogate with an
importance ratio to the sampling policy and a KL penalty to the reference: PPO's objective
without a value network; docs/mutation_rl.md). No policy gradient is written by hand here.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cetd_lib.models.completions import completion_text
from cetd_lib.mutation import Mutant, MutationConfig, MutationScore, generate_mutants
from cetd_lib.mutation import mutation_scores as _mutation_scores
from cetd_lib.mutation_rl.config import MutationRLConfig
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.tracking.dashboard import DashboardConfig
from cetd_lib.tracking.runs import RunRecord

if TYPE_CHECKING:
    from cetd_lib.sandbox.cache import ResultCache
    from cetd_lib.tracking.live import LiveMetrics

log = logging.getLogger(__name__)

#: Bump when the prompt changes: it goes into run records.
TEST_PROMPT_VERSION = "1"


# ---------------------------------------------------------------------------------------------
# Targets and prompts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutationTarget:
    """One module to write tests for. `sources` holds every module of its app (the tests may
    import them all); only `module` is mutated."""

    target_id: str
    sources: Mapping[str, str]
    module: str

    @property
    def import_name(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")


def targets_from_apps(apps: Sequence[Any], max_source_chars: int = 4000) -> list[MutationTarget]:
    """One target per module of each app (`__init__.py` and over-long modules left out)."""
    targets = []
    for app in apps:
        for module, text in sorted(app.sources.items()):
            if module.endswith("__init__.py") or len(text) > max_source_chars:
                continue
            targets.append(MutationTarget(f"{app.app_id}/{module}", dict(app.sources), module))
    return targets


def prompt_for_tests(target: MutationTarget) -> list[dict[str, str]]:
    """Chat messages asking for ONE pytest file for the target module."""
    source = target.sources[target.module]
    return [
        {
            "role": "user",
            "content": (
                f"Write pytest tests for the Python module `{target.module}` below. Import it "
                f"with `from {target.import_name} import ...`. The tests must pass on this code "
                "and should fail if its behaviour changed. Reply with one ```python block.\n\n"
                f"```python\n{source}```"
            ),
        }
    ]


_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_test_code(completion: Any) -> str:
    """The first fenced block (closed or not), else the whole text.

    >>> extract_test_code("Here:\\n```python\\ndef test_a():\\n    assert 1\\n```\\nDone.")
    'def test_a():\\n    assert 1\\n'
    """
    text = completion_text(completion)
    match = _FENCE.search(text)
    return match.group(1) if match else text


# ---------------------------------------------------------------------------------------------
# Reward
# ---------------------------------------------------------------------------------------------


class KillRateReward:
    """TRL reward function `(prompts, completions, target_id, **kwargs) -> list[float | None]`.

    Built by `make_kill_rate_reward`; the mutants of each target are generated once (a seeded
    sample), so every completion of a module faces the same mutants and repeated
    (code, tests) runs hit the harness cache across RL steps.

    >>> from cetd_lib.sandbox.config import HarnessConfig
    >>> target = MutationTarget("demo/m.py", {"m.py": "def inc(x):\\n    return x + 1\\n"}, "m.py")
    >>> reward = make_kill_rate_reward([target], harness=HarnessConfig(cache=False))
    >>> strong = "```python\\nfrom m import inc\\ndef test_inc():\\n    assert inc(2) == 3\\n```"
    >>> weak = "from m import inc\\ndef test_inc():\\n    inc(2)\\n"
    >>> broken = "from m import inc\\ndef test_inc():\\n    assert inc(2) == 4\\n"
    >>> reward(["p"] * 3, [strong, weak, broken], target_id=["demo/m.py"] * 3)
    [1.0, 0.0, 0.0]
    >>> reward.last_infos[2]["failure_class"]
    'ASSERTION_FAILURE'
    """

    __name__ = "kill_rate"  # TRL names the reward's log columns after it

    def __init__(
        self,
        targets: Sequence[MutationTarget],
        config: MutationConfig | None = None,
        *,
        harness: HarnessConfig | None = None,
        cache: ResultCache | Literal["auto"] | None = "auto",
    ) -> None:
        self.targets = {t.target_id: t for t in targets}
        if len(self.targets) != len(targets):
            raise ValueError("make_kill_rate_reward: target ids must be unique")
        self.config = config or MutationConfig()
        self.harness = harness
        self._cache = cache
        self._mutants: dict[str, list[Mutant]] = {}
        self.last_infos: list[dict[str, Any]] = []
        self.history: list[dict[str, float]] = []

    def mutants(self, target_id: str) -> list[Mutant]:
        if target_id not in self._mutants:
            target = self._target(target_id)
            self._mutants[target_id] = generate_mutants(
                target.sources[target.module], target.module, self.config
            )
        return self._mutants[target_id]

    def _target(self, target_id: str) -> MutationTarget:
        try:
            return self.targets[target_id]
        except KeyError:
            raise KeyError(
                f"kill_rate reward: unknown target_id {target_id!r}; it was built for "
                f"{sorted(self.targets)[:5]}..."
            ) from None

    def cache(self) -> Any:
        if self._cache == "auto":
            from cetd_lib.sandbox.cache import open_cache

            harness = self.harness or HarnessConfig()
            self._cache = open_cache(harness) if harness.cache else None
        return self._cache

    def score(self, target_id: str, test_files: Sequence[str]) -> list[MutationScore]:
        """Mutation scores of several generated test files of one target (one batch)."""
        target = self._target(target_id)
        suites = [{"test_generated.py": code} for code in test_files]
        return _mutation_scores(
            target.sources,
            target.module,
            suites,
            self.mutants(target_id),
            self.config,
            harness=self.harness,
            cache=self.cache(),
        )

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], target_id: Sequence[str],
        **kwargs: Any,
    ) -> list[float | None]:  # fmt: skip
        started = time.perf_counter()
        if len(target_id) != len(completions):
            raise ValueError(
                f"kill_rate reward: {len(completions)} completions but {len(target_id)} "
                "target ids; the dataset needs a `target_id` column"
            )
        codes = [extract_test_code(c) for c in completions]
        by_target: dict[str, list[int]] = {}
        for i, tid in enumerate(target_id):
            by_target.setdefault(tid, []).append(i)
        scores: list[MutationScore | None] = [None] * len(codes)
        for tid, rows in by_target.items():
            for i, score in zip(rows, self.score(tid, [codes[i] for i in rows]), strict=True):
                scores[i] = score
        self.last_infos = [
            {"target_id": tid, "n_mutants": len(self.mutants(tid)), **s.to_dict()}
            for tid, s in zip(target_id, scores, strict=True)
            if s is not None
        ]
        rewards = [s.kill_rate if s is not None else None for s in scores]
        self._log(rewards, scores, time.perf_counter() - started, kwargs.get("log_metric"))
        return rewards

    def _log(self, rewards, scores, seconds, log_metric) -> None:
        measured = [r for r in rewards if r is not None]
        n = max(1, len(scores))
        stats = {
            "kill_rate/mean": statistics.fmean(measured) if measured else math.nan,
            "kill_rate/unusable_on_original": sum(
                s is not None and s.failure_class is not None and s.kill_rate == 0.0 for s in scores
            )
            / n,
            "kill_rate/harness_error": sum(r is None for r in rewards) / n,
            # passes on the module, fails on a behaviour-preserving variant: tests the text
            "kill_rate/source_coupled": sum(s is not None and s.source_coupled for s in scores) / n,
            "kill_rate/mutants_per_s": sum(s.killed + s.survived + s.errored for s in scores if s)
            / max(seconds, 1e-9),
        }
        self.history.append(stats)
        if callable(log_metric):
            for name, value in stats.items():
                if not math.isnan(value):
                    log_metric(name, value)


def make_kill_rate_reward(
    targets: Sequence[MutationTarget],
    config: MutationConfig | None = None,
    *,
    harness: HarnessConfig | None = None,
    cache: ResultCache | Literal["auto"] | None = "auto",
) -> KillRateReward:
    """The kill-rate reward bound to `targets` (dataset column `target_id` picks one per row).
    `cache`: a harness `ResultCache`, None for no cache, "auto" = the harness config's cache."""
    return KillRateReward(targets, config, harness=harness, cache=cache)


# ---------------------------------------------------------------------------------------------
# TRL wiring
# ---------------------------------------------------------------------------------------------


def rl_dataset(targets: Sequence[MutationTarget]):
    """Conversational prompts + `target_id` (TRL hands extra columns to the reward)."""
    from datasets import Dataset

    return Dataset.from_list(
        [{"prompt": prompt_for_tests(t), "target_id": t.target_id} for t in targets]
    )


def trl_args(config: MutationRLConfig, out: Path, report_to: Sequence[str] = ()) -> Any:
    """RLOOConfig / GRPOConfig: batch_modules x num_generations completions per generation;
    each generated batch is optimised on `num_iterations` times (ratio + clipping)."""
    from cetd_lib.train.trl_rl import policy_gradient_args

    return policy_gradient_args(
        config.algorithm,
        out,
        device="cpu",
        mixed_precision=config.mixed_precision,
        gradient_checkpointing=config.gradient_checkpointing,
        report_to=report_to,
        num_generations=config.num_generations,
        per_device_train_batch_size=config.batch_modules * config.num_generations,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        warmup_steps=0,
        beta=config.beta,
        disable_dropout=config.disable_dropout,
        epsilon=config.epsilon,
        num_iterations=config.num_iterations,
        temperature=config.temperature,
        top_p=config.top_p,
        max_completion_length=config.max_new_tokens,
        seed=config.seed,
        logging_steps=config.logging_steps,
    )


@dataclass
class MutationRLTrainResult:
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)  # TRL's logged rows
    seconds: float = 0.0

    def reward_curve(self) -> list[tuple[int, float]]:
        return [(int(r["step"]), r["reward"]) for r in self.history if "reward" in r]

    def kl_curve(self) -> list[tuple[int, float]]:
        return [(int(r["step"]), r["kl"]) for r in self.history if "kl" in r]


def train_mutation_rl(
    model: Any,
    tokenizer: Any,
    targets: Sequence[MutationTarget],
    reward_fn: Any,
    config: MutationRLConfig,
    out_dir: str | Path,
    *,
    run: RunRecord | None = None,
    live: LiveMetrics | None = None,
) -> tuple[Any, MutationRLTrainResult]:
    """RL-train `model` (a LoRA adapter is added unless it is already a peft model) on
    `reward_fn` over `targets`; returns (trained model, result). Every TRL log row goes to
    `live` (or a LiveMetrics on `run`) under `mutation_rl/`, TRL's keys mapped onto groups
    (`rewards/mean`, `losses/kl`, the reward's `kill_rate/*`), with samples/s added."""
    from cetd_lib.tracking.live import LiveMetricsCallback, attach, training_metrics
    from cetd_lib.train.trl_rl import (
        drop_reference_adapter,
        policy_gradient_trainer_class,
        raw_log_callback,
    )

    if not targets:
        raise ValueError("train_mutation_rl needs at least one target module")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []  # TRL's raw rows: the reward and KL curves

    peft_config = None
    if not hasattr(model, "peft_config"):
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            target_modules=list(config.lora_target_modules),
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    started = time.perf_counter()
    with training_metrics(run, live) as live:
        trainer = policy_gradient_trainer_class(config.algorithm)(
            model=model,
            reward_funcs=reward_fn,
            args=trl_args(config, out, live.report_to if live is not None else ()),
            train_dataset=rl_dataset(targets),
            processing_class=tokenizer,
            callbacks=[raw_log_callback(history)],
            peft_config=peft_config,
        )
        if live is not None:
            # generations are reused num_iterations times: new samples per step is /mu
            samples = config.batch_modules * config.num_generations / config.num_iterations
            attach(
                trainer, LiveMetricsCallback(live, phase="mutation_rl", samples_per_step=samples)
            )
        trainer.train()
    trained = trainer.model
    drop_reference_adapter(trained)
    result = MutationRLTrainResult(
        steps=trainer.state.global_step, history=history, seconds=time.perf_counter() - started
    )
    (out / "train_result.json").write_text(json.dumps(asdict(result), indent=2, default=str))
    return trained, result


# ---------------------------------------------------------------------------------------------
# Evaluation: the policy's greedy test file per held-out module, scored by mutation
# ---------------------------------------------------------------------------------------------


def generate_test_files(
    model: Any, tokenizer: Any, targets: Sequence[MutationTarget], max_new_tokens: int
) -> list[str]:
    """One greedy completion per target (deterministic: the before/after comparison is fair)."""
    import torch

    texts = []
    model.eval()
    for target in targets:
        ids = tokenizer.apply_chat_template(
            prompt_for_tests(target),
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        with torch.no_grad():
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts.append(
            tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        )
    return texts


def evaluate_policy(
    model: Any,
    tokenizer: Any,
    targets: Sequence[MutationTarget],
    reward: KillRateReward,
    max_new_tokens: int,
) -> dict[str, Any]:
    """Mean kill rate of the policy's greedy test files on `targets` (None rewards count 0:
    a held-out score must not improve by breaking the harness), with per-target details."""
    completions = generate_test_files(model, tokenizer, targets, max_new_tokens)
    rewards = reward([None] * len(targets), completions, [t.target_id for t in targets])
    per_target = [
        {**info, "reward": r, "test_file": extract_test_code(c)}
        for info, r, c in zip(reward.last_infos, rewards, completions, strict=True)
    ]
    values = [0.0 if r is None else r for r in rewards]
    return {
        "mutation_score": statistics.fmean(values) if values else math.nan,
        "usable_share": sum(i["failure_class"] is None for i in per_target) / max(1, len(targets)),
        "per_target": per_target,
    }


def relative_improvement(before: float, after: float) -> float:
    """(after - before) / before; +inf when before = 0 < after, 0 when both are 0."""
    if before > 0:
        return (after - before) / before
    return math.inf if after > 0 else 0.0


def _split_targets(apps: Sequence[Any], config: MutationRLConfig, seed: int):
    from cetd_lib.apps.splits import split_of

    by_id = {app.app_id: app for app in apps}
    missing = sorted(set(config.train_apps + config.heldout_apps) - set(by_id))
    if missing:
        raise KeyError(f"mutation_rl: unknown app ids {missing}; known: {sorted(by_id)[:8]}...")
    if config.heldout_apps:
        heldout = [by_id[a] for a in config.heldout_apps]
    else:
        fractions = (1.0 - config.heldout_fraction, 0.0, config.heldout_fraction)
        heldout = [a for a in apps if split_of(a.app_id, seed=seed, fractions=fractions) == "test"]
    held = {a.app_id for a in heldout}
    train = (
        [by_id[a] for a in config.train_apps]
        if config.train_apps
        else [a for a in apps if a.app_id not in held]
    )
    train_targets = targets_from_apps(train, config.max_source_chars)[: config.max_train_targets]
    heldout_targets = targets_from_apps(heldout, config.max_source_chars)[
        : config.max_heldout_targets
    ]
    if not train_targets or not heldout_targets:
        raise ValueError(
            f"mutation_rl: {len(train_targets)} training and {len(heldout_targets)} held-out "
            "modules; set mutation_rl.train_apps / heldout_apps or raise max_source_chars"
        )
    return train_targets, heldout_targets


def run_mutation_rl(
    config: MutationRLConfig,
    run: RunRecord,
    *,
    harness: HarnessConfig,
    dashboard: DashboardConfig,
    apps_dir: str | None = None,
    report_to: Sequence[str] = (),
) -> dict[str, Any]:
    """Mutation score before/after RL on held-out modules, reward curve and KL -> `run`.

    Writes `mutation_rl/eval/*` metrics, artifacts `mutation_rl/eval.json` and
    `mutation_rl/train.json`, and the summary; `summary["improved"]` says plainly whether the
    held-out score rose by more than `improvement_target` (it often does not on CPU budgets).
    """
    from cetd_lib.apps.app import load_apps
    from cetd_lib.models import load_base
    from cetd_lib.tracking.live import LiveMetrics
    from cetd_lib.tracking.runs import set_seed, write_json_atomic

    set_seed(config.seed)
    apps = load_apps(apps_dir)
    train_targets, heldout_targets = _split_targets(apps, config, config.seed)
    log.info(
        "mutation_rl: %d training modules, %d held-out modules",
        len(train_targets),
        len(heldout_targets),
    )
    model, tokenizer = load_base(config.base_model)
    train_reward = make_kill_rate_reward(train_targets, config.mutation, harness=harness)
    eval_reward = make_kill_rate_reward(heldout_targets, config.mutation, harness=harness)

    with LiveMetrics.from_config(run, dashboard, report_to=report_to) as live:
        before = evaluate_policy(
            model, tokenizer, heldout_targets, eval_reward, config.eval_max_new_tokens
        )
        live.log(0, phase="mutation_rl", **{"eval/mutation_score": before["mutation_score"]})
        trained, result = train_mutation_rl(
            model, tokenizer, train_targets, train_reward, config,
            run.artifact("mutation_rl/trl"), live=live,
        )  # fmt: skip
        after = evaluate_policy(
            trained, tokenizer, heldout_targets, eval_reward, config.eval_max_new_tokens
        )
        live.log(
            result.steps, phase="mutation_rl", **{"eval/mutation_score": after["mutation_score"]}
        )
    gain = relative_improvement(before["mutation_score"], after["mutation_score"])
    improved = gain > config.improvement_target
    rewards = [r for _, r in result.reward_curve()]
    kls = [k for _, k in result.kl_curve()]
    summary = {
        "mutation_rl/algorithm": config.algorithm,
        "mutation_rl/base_model": config.base_model,
        "mutation_rl/prompt_version": TEST_PROMPT_VERSION,
        "mutation_rl/steps": result.steps,
        "mutation_rl/train_modules": [t.target_id for t in train_targets],
        "mutation_rl/heldout_modules": [t.target_id for t in heldout_targets],
        "mutation_rl/score_before": before["mutation_score"],
        "mutation_rl/score_after": after["mutation_score"],
        "mutation_rl/relative_improvement": gain,
        "mutation_rl/improvement_target": config.improvement_target,
        "mutation_rl/improved": improved,
        "mutation_rl/usable_share_before": before["usable_share"],
        "mutation_rl/usable_share_after": after["usable_share"],
        "mutation_rl/reward_first": rewards[0] if rewards else None,
        "mutation_rl/reward_last": rewards[-1] if rewards else None,
        "mutation_rl/kl_last": kls[-1] if kls else None,
        "mutation_rl/verdict": (
            f"held-out mutation score {before['mutation_score']:.3f} -> "
            f"{after['mutation_score']:.3f}: "
            + (
                f"improved by more than {config.improvement_target:.0%}"
                if improved
                else f"NOT improved by more than {config.improvement_target:.0%}"
            )
        ),
    }
    write_json_atomic(run.artifact("mutation_rl/eval.json"), {"before": before, "after": after})
    write_json_atomic(
        run.artifact("mutation_rl/train.json"),
        {"reward_curve": result.reward_curve(), "kl_curve": result.kl_curve(),
         "history": result.history, "reward_log": train_reward.history},
    )  # fmt: skip
    run.write_summary({**run.summary(), **summary})
    log.info("%s", summary["mutation_rl/verdict"])
    return summary
