"""Mutation RL: the kill-rate reward, and TRL RLOO / GRPO moving the tiny model toward reward."""

from __future__ import annotations

import copy
import doctest
import json
import math
from pathlib import Path

import pytest
import torch

import cetd_lib.mutation_rl.rl as rl
from cetd_lib import cli
from cetd_lib.mutation_rl.config import MutationRLConfig
from cetd_lib.mutation_rl.rl import (
    MutationTarget,
    extract_test_code,
    make_kill_rate_reward,
    prompt_for_tests,
    relative_improvement,
    train_mutation_rl,
)
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.tracking.results import read_results_table

NO_CACHE = HarnessConfig(cache=False)
MODULE = '''def grade(score):
    """Letter grade for a 0-100 score."""
    if score < 0 or score > 100:
        raise ValueError("score out of range")
    if score >= 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"
'''
TARGET = MutationTarget("demo/grades.py", {"grades.py": MODULE}, "grades.py")
STRONG = """```python
import pytest
from grades import grade

def test_boundaries():
    assert grade(90) == "A" and grade(89) == "B"
    assert grade(75) == "B" and grade(74) == "C"
    assert grade(100) == "A" and grade(0) == "C"

def test_range():
    for bad in (-1, 101):
        with pytest.raises(ValueError, match="out of range"):
            grade(bad)
```"""
SMALL = MutationTarget("demo/m.py", {"m.py": "def f(x):\n    return x + 1\n"}, "m.py")
WEAK = """```python
from grades import grade

def test_runs():
    assert grade(95) in ("A", "B", "C")
```"""


def test_reward_is_in_unit_interval_and_ranks_strong_above_weak():
    reward = make_kill_rate_reward([TARGET], harness=NO_CACHE)
    completions = [STRONG, [{"role": "assistant", "content": WEAK}], "not python at all ("]
    values = reward(["p"] * 3, completions, target_id=[TARGET.target_id] * 3)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values[0] > values[1] and values[0] >= 0.8
    assert values[2] == 0.0 and reward.last_infos[2]["failure_class"] == "SYNTAX_ERROR"
    assert reward.last_infos[0]["killed"] + reward.last_infos[0]["survived"] > 5
    assert not math.isnan(reward.history[-1]["kill_rate/mutants_per_s"])


def test_tests_failing_on_the_original_give_zero_and_keep_the_failure_class():
    reward = make_kill_rate_reward([TARGET], harness=NO_CACHE)
    wrong = "from grades import grade\ndef test_a():\n    assert grade(90) == 'B'\n"
    missing = "from grades import letter\ndef test_a():\n    assert letter(90) == 'A'\n"
    logged = {}
    values = reward(
        ["p", "p"], [wrong, missing], target_id=[TARGET.target_id] * 2,
        log_metric=logged.__setitem__,
    )  # fmt: skip
    assert values == [0.0, 0.0]
    assert [i["failure_class"] for i in reward.last_infos] == [
        "ASSERTION_FAILURE",
        "MISSING_SYMBOL",
    ]
    assert logged["kill_rate/unusable_on_original"] == 1.0
    with pytest.raises(KeyError, match="unknown target_id"):
        reward(["p"], [WEAK], target_id=["nope"])


def test_tests_of_the_prompted_source_text_score_zero_and_are_logged_as_source_coupled():
    # The prompt holds the module's source, so copying it into an assertion is free for the
    # policy; with it, every mutant would be "killed".
    getsource = (
        "import inspect, grades\n"
        f"def test_src():\n    assert inspect.getsource(grades) == {MODULE!r}\n"
    )
    reads_file = (
        f"import grades\ndef test_file():\n    assert open(grades.__file__).read() == {MODULE!r}\n"
    )
    # With the static screen off, the behaviour-preserving variants catch both on their own.
    reward = make_kill_rate_reward([TARGET], harness=HarnessConfig(cache=False, screen=False))
    logged = {}
    values = reward(
        ["p"] * 3, [getsource, reads_file, STRONG], target_id=[TARGET.target_id] * 3,
        log_metric=logged.__setitem__,
    )  # fmt: skip
    assert values[:2] == [0.0, 0.0] and values[2] >= 0.8  # behaviour still pays
    assert [i["source_coupled"] for i in reward.last_infos] == [True, True, False]
    assert reward.last_infos[0]["failure_class"] == "SOURCE_COUPLED"
    assert logged["kill_rate/source_coupled"] == pytest.approx(2 / 3)
    # With the screen on (the default), both are stopped before any mutant runs.
    screened = make_kill_rate_reward([TARGET], harness=NO_CACHE)
    values = screened(
        ["p"] * 2, [getsource, reads_file], target_id=[TARGET.target_id] * 2
    )  # fmt: skip
    assert values == [0.0, 0.0]
    assert {i["failure_class"] for i in screened.last_infos} == {"REWARD_HACK_SUSPECT"}


def test_doctests_and_helpers():
    assert doctest.testmod(rl).failed == 0
    assert extract_test_code("x = 1") == "x = 1"
    assert "```python" in prompt_for_tests(TARGET)[0]["content"]
    assert relative_improvement(0.5, 0.6) == pytest.approx(0.2)
    assert relative_improvement(0.0, 0.0) == 0.0 and relative_improvement(0.0, 0.1) == math.inf
    with pytest.raises(ValueError, match="at least 2 generations"):
        MutationRLConfig(num_generations=1)


def completion_log_prob(model, prompt_ids, completion_ids) -> float:
    ids = torch.tensor([list(prompt_ids) + list(completion_ids)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
    return float(
        torch.log_softmax(logits, -1).gather(1, torch.tensor(completion_ids)[:, None]).sum()
    )


def test_grpo_run_moves_toward_the_rewarded_output(tiny_base, tmp_path):
    """A reward favouring even token ids: after two GRPO steps on one generated batch
    (num_iterations=2: the second step has a ratio != 1 to clip; beta > 0), the best sampled
    completion gained log-probability relative to the worst, compared with the policy the
    samples came from (LoRA starts at B = 0, so the model with its adapter disabled is that
    policy). RLOO goes through the same wiring (`algorithm="rloo"`); one TRL run keeps the
    test fast."""
    model, tokenizer = tiny_base
    seen: list[tuple[tuple[int, ...], float]] = []

    def even_tokens(prompts, completions, completion_ids, target_id, **kwargs):
        rewards = [sum(t % 2 == 0 for t in ids) / max(1, len(ids)) for ids in completion_ids]
        seen.extend(zip(map(tuple, completion_ids), rewards, strict=True))
        return rewards

    config = MutationRLConfig(
        base_model="tiny-random", algorithm="grpo", num_generations=4, max_new_tokens=8,
        learning_rate=5e-2, max_steps=2, num_iterations=2, beta=0.04, lora_r=8,
        lora_target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                             "down_proj"),
    )  # fmt: skip
    from cetd_lib.tracking.runs import RunRecord

    run = RunRecord.open(tmp_path, "mrl-train")
    trained, result = train_mutation_rl(
        copy.deepcopy(model), tokenizer, [SMALL], even_tokens, config, tmp_path / "out", run=run
    )
    keys = {k for row in run.metrics() for k in row}
    for key in ("rewards/mean", "rewards/std", "losses/kl", "charts/samples_per_s"):
        assert f"mutation_rl/{key}" in keys, sorted(keys)
    assert result.steps == 2 and len(seen) >= 4
    first_batch = seen[:4]
    best = max(first_batch, key=lambda s: s[1])
    worst = min(first_batch, key=lambda s: s[1])
    assert best[1] > worst[1]
    prompt = tokenizer.apply_chat_template(prompt_for_tests(SMALL), add_generation_prompt=True)
    prompt = prompt["input_ids"] if hasattr(prompt, "keys") else prompt

    def gap():
        return completion_log_prob(trained, prompt, best[0]) - completion_log_prob(
            trained, prompt, worst[0]
        )

    after = gap()
    with trained.disable_adapter():
        before = gap()
    assert after > before
    assert result.reward_curve() and result.kl_curve()[-1][1] > 0.0  # moved off the reference
    assert any("clip_ratio/region_mean" in row for row in result.history)


def test_run_mutation_rl_records_before_after_curves_and_an_honest_verdict(
    tiny_base, tmp_path, monkeypatch
):
    """The driver's bookkeeping, with the TRL run and the generation stubbed (the TRL path is
    tested above): the held-out score goes from the weak file's to the strong file's."""
    import cetd_lib.apps.app
    import cetd_lib.models
    from cetd_lib.apps.app import App
    from cetd_lib.params import load_params
    from cetd_lib.tracking.runs import RunRecord

    apps = [
        App("train_app", dict(SMALL.sources), {"test_m.py": "x = 1\n"}, ("f adds one.",)),
        App("held_app", dict(TARGET.sources), {"test_g.py": "x = 1\n"}, ("grade maps.",)),
    ]
    monkeypatch.setattr(cetd_lib.apps.app, "load_apps", lambda apps_dir=None: apps)
    monkeypatch.setattr(cetd_lib.models, "load_base", lambda name: tiny_base)
    files = iter([[WEAK], [STRONG]])
    monkeypatch.setattr(rl, "generate_test_files", lambda *a, **k: next(files))
    curve = [{"step": 1, "reward": 0.1, "kl": 0.0}, {"step": 2, "reward": 0.3, "kl": 0.02}]
    monkeypatch.setattr(
        rl, "train_mutation_rl",
        lambda model, tok, targets, reward, config, out, run=None, live=None: (
            model, rl.MutationRLTrainResult(steps=2, history=curve)
        ),
    )  # fmt: skip
    params = load_params(
        None,
        {
            "mutation_rl.train_apps": ["train_app"],
            "mutation_rl.heldout_apps": ["held_app"],
            "harness.cache": False,
        },
    )
    with RunRecord.open(tmp_path, "mrl") as run:
        summary = rl.run_mutation_rl(
            params.mutation_rl, run, harness=params.harness, dashboard=params.dashboard
        )
    assert summary["mutation_rl/heldout_modules"] == ["held_app/grades.py"]
    assert summary["mutation_rl/score_after"] > summary["mutation_rl/score_before"]
    assert (
        summary["mutation_rl/improved"] is True
        and "improved by more" in summary["mutation_rl/verdict"]
    )
    assert summary["mutation_rl/reward_last"] == 0.3 and summary["mutation_rl/kl_last"] == 0.02
    assert run.summary()["mutation_rl/improved"] is True
    scores = [r["mutation_rl/eval/mutation_score"] for r in run.metrics()]
    assert scores == [summary["mutation_rl/score_before"], summary["mutation_rl/score_after"]]
    assert (run.dir / "artifacts" / "mutation_rl" / "eval.json").exists()


def test_cli_writes_the_run_record_and_the_training_report(tmp_path, monkeypatch, capsys):
    def fake_run(config, run, **sections):  # the RL itself is tested above: the CLI's wiring
        assert config.base_model == "tiny-random"
        assert isinstance(sections["harness"], HarnessConfig)
        summary = {
            "mutation_rl/algorithm": "rloo",
            "mutation_rl/base_model": "tiny-random",
            "mutation_rl/steps": 2,
            "mutation_rl/train_modules": ["a"],
            "mutation_rl/heldout_modules": ["b", "c"],
            "mutation_rl/score_before": 0.25,
            "mutation_rl/score_after": 0.5,
            "mutation_rl/usable_share_before": 1.0,
            "mutation_rl/usable_share_after": 0.5,
            "mutation_rl/verdict": "held-out mutation score 0.250 -> 0.500: NOT improved",
        }
        run.write_summary(summary)
        return summary

    monkeypatch.setattr(rl, "run_mutation_rl", fake_run)
    params = str(Path(__file__).resolve().parents[1] / "params" / "tiny.yaml")
    assert cli.mutation_rl(["--params", params, "--set", f"run.outputs_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "NOT improved" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("mutation_rl-")
    (report,) = (tmp_path / "reports").glob("training-*.md")
    assert run_dir.name in report.read_text()
    # the study's results.json: the held-out scores before and after RL in the shared table
    table = read_results_table(json.loads((run_dir / "results.json").read_text()))
    block = table.row_sets["heldout"]
    assert block.app_ids == ("b", "c") and list(block.sources) == ["before_rl", "after_rl"]
    assert table.metric("heldout", "after_rl", "mutation_score").value == 0.5
    assert "| after RL | 0.500 | 0.500 |" in (run_dir / "report.md").read_text()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"


def test_trl_args_switch_dropout_off_unless_asked(tmp_path):
    """With LoRA dropout on, policy and reference log-probs differ by noise (issue 29)."""
    assert rl.trl_args(MutationRLConfig(), tmp_path).disable_dropout is True
    kept = rl.trl_args(MutationRLConfig(disable_dropout=False), tmp_path)
    assert kept.disable_dropout is False
