"""Ablation statistics against hand-computed numbers, and the conditions end to end on the
calibration backends (oracle = 1.0, null = 0.0)."""

from __future__ import annotations

import json
import math

import pytest

from cetd_lib.apps.app import App
from cetd_lib.evaluation import ablation
from cetd_lib.evaluation.ablation import (
    AblationConfig,
    ContextPromptBackend,
    TrainingAppError,
    check_ranking,
    compare,
    context_messages,
    default_pairs,
    find_checkpoint,
    paired_bootstrap,
    pass_rate_summary,
    run_condition,
    sign_test,
    wilcoxon_test,
)
from cetd_lib.params import ParamsError, load_params
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.reconstruction.prompts import build_prompt
from cetd_lib.sandbox.config import HarnessConfig

FAST = HarnessConfig(app_timeout_s=6.0, test_timeout_s=1.0, workers=2, cache=False)


def _app(name: str, body: str, value: int) -> App:
    return App(
        name,
        {f"{name}.py": f'"""{name} module."""\n\ndef f():\n    # the answer\n    {body}\n'},
        {f"test_{name}.py": f"from {name} import f\n\ndef test_f():\n    assert f() == {value}\n"},
        (f"f() returns {value}.", "It takes no argument."),
    )


APPS = [_app("one", "return 1", 1), _app("two", "return 2", 2)]
TRAIN = [_app("three", "return 3", 3), _app("four", "return 4", 4)]


# ---------------------------------------------------------------- paired statistics


def test_paired_bootstrap_hand_computed():
    # differences 0 and 1: resampled means are 0, 0.5, 1 with probability 1/4, 1/2, 1/4, so
    # the 2.5% and 97.5% quantiles are 0 and 1 and the mean difference is 0.5
    assert paired_bootstrap([1, 1], [1, 0], n_resamples=4000) == (0.5, 0.0, 1.0)
    assert paired_bootstrap([0.5] * 4, [0.25] * 4) == (0.25, 0.25, 0.25)
    assert all(math.isnan(v) for v in paired_bootstrap([], []))


def test_paired_bootstrap_is_seeded():
    a, b = [0.1, 0.9, 0.4, 0.7, 0.3], [0.0, 0.5, 0.6, 0.2, 0.3]
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def test_sign_test_hand_computed():
    five_wins = sign_test([1] * 5, [0] * 5)
    assert five_wins.p_value == pytest.approx(2 * 0.5**5)  # 0.0625
    assert (five_wins.wins, five_wins.losses, five_wins.ties) == (5, 0, 0)
    # 3 wins, 1 loss, 1 tie: n = 4, P(X >= 3) = (4 + 1) / 16, two-sided 10/16
    mixed = sign_test([1, 1, 1, 0, 0.5], [0, 0, 0, 1, 0.5])
    assert mixed.p_value == pytest.approx(10 / 16)
    assert (mixed.wins, mixed.losses, mixed.ties, mixed.n_pairs) == (3, 1, 1, 5)
    assert math.isnan(sign_test([0.5, 1], [0.5, 1]).p_value)


def test_wilcoxon_hand_computed():
    # differences 1, -2, 3, 4, 5: ranks 1..5, W- = 2, W+ = 13; of the 32 sign patterns,
    # 3 have W- <= 2 ({}, {1}, {2}), so the exact two-sided p is 6/32
    test = wilcoxon_test([1, 0, 3, 4, 5], [0, 2, 0, 0, 0])
    assert test.statistic == 2.0
    assert test.p_value == pytest.approx(6 / 32)
    # all positive, n = 5: only the empty set has W- = 0, p = 2/32
    assert wilcoxon_test([1, 2, 3, 4, 5], [0] * 5).p_value == pytest.approx(2 / 32)
    all_tied = wilcoxon_test([0.5, 0.5], [0.5, 0.5])
    assert math.isnan(all_tied.p_value) and all_tied.ties == 2


def test_compare_pairs_apps_and_drops_unscored_ones():
    rates = {
        "gold": {"a": 1.0, "b": 1.0, "c": float("nan")},
        "phase1": {"a": 0.0, "b": 1.0, "c": 0.0},
        "phase2_stage1": None,
    }
    c = compare("gold", "phase1", rates, test="sign", n_resamples=4000)
    assert c.status == "measured" and c.app_ids == ("a", "b")
    assert (c.mean_difference, c.ci_low, c.ci_high) == (0.5, 0.0, 1.0)
    assert (c.test.name, c.test.wins, c.test.ties) == ("sign", 1, 1)
    missing = compare("gold", "phase2_stage1", rates)
    assert missing.test is None and "phase2_stage1" in missing.status


def test_default_pairs():
    pairs = default_pairs(ablation.ALL_SOURCES, ablation.SEED_RANKING)
    assert pairs[:3] == [
        ("gold", "phase2_stage2"),
        ("phase2_stage2", "phase2_stage1"),
        ("phase2_stage1", "phase1"),
    ]
    assert ("gold", "level1") in pairs and ("level2", "level3") in pairs
    assert default_pairs(["gold", "phase1"], ablation.SEED_RANKING) == [("gold", "phase1")]


# ---------------------------------------------------------------- ranking


def _rates(**columns):
    """source -> {app -> pass rate} from equal-length lists."""
    return {name: {f"app{i}": v for i, v in enumerate(values)} for name, values in columns.items()}


def test_ablation_ranking_is_decided_by_corrected_tests_over_the_measured_chain():
    # 8 apps where gold beats phase1 on every app (sign test p = 2/256, 3 tests: Holm 3x)
    rates = _rates(gold=[1.0] * 8, phase2_stage1=[0.5] * 8, phase1=[0.0] * 8)
    rates["phase2_stage2"] = None  # no checkpoint
    measured = [n for n, r in rates.items() if r is not None]
    pairs = default_pairs(measured, ablation.SEED_RANKING)
    assert pairs[:2] == [("gold", "phase2_stage1"), ("phase2_stage1", "phase1")]
    comparisons = ablation.compare_all(pairs, rates, test="sign", n_resamples=500)
    check = check_ranking(comparisons, ablation.SEED_RANKING, measured=measured)
    assert [(p.higher, p.lower, p.verdict) for p in check.pairs] == [
        ("gold", "phase2_stage1", "holds"),
        ("phase2_stage1", "phase1", "holds"),
    ]
    assert check.not_measured == ("phase2_stage2",)
    assert check.verdict == "holds where measured"
    assert check.pairs[0].p_holm == pytest.approx(3 * 2 / 256)
    assert "Holm-corrected" in check.rule and check.to_dict()["verdict"] == check.verdict


# ---------------------------------------------------------------- config


def test_config_rejects_unknown_source_with_a_hint():
    with pytest.raises(ValueError, match="did you mean 'level2'"):
        AblationConfig(sources=("gold", "levle2"))
    with pytest.raises(ValueError, match="n_resamples"):
        AblationConfig(n_resamples=10)


def test_params_carry_an_ablation_section(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("ablation:\n  phase2_run_id: r1\n  sources: [gold, level3]\n")
    params = load_params(path)
    assert params.ablation.sources == ("gold", "level3")
    assert params.ablation.phase2_run_id == "r1"
    with pytest.raises(ParamsError, match="ablation.paired_test"):
        load_params(path, ["ablation.paired_test=t"])


# ---------------------------------------------------------------- checkpoints


def test_find_checkpoint_says_why_not(tmp_path):
    assert find_checkpoint(tmp_path, "", "stage1")[1].startswith("not available (no checkpoint)")
    assert "no run 'r'" in find_checkpoint(tmp_path, "r", "stage1")[1]
    (tmp_path / "runs" / "r" / "artifacts" / "stage1").mkdir(parents=True)
    path, reason = find_checkpoint(tmp_path, "r", "stage1")
    assert path is None and "extractor.json" in reason
    (tmp_path / "runs" / "r" / "artifacts" / "stage1" / "extractor.json").write_text("{}")
    assert find_checkpoint(tmp_path, "r", "stage1") == (
        tmp_path / "runs" / "r" / "artifacts" / "stage1",
        "",
    )


# ---------------------------------------------------------------- context prompts


def test_context_prompt_says_it_hands_over_degraded_code():
    system, user = context_messages("### src/one.py\n```python\ndef f(): ...\n```", 3, ["one.py"])
    assert "degraded" in system["content"] and "(degraded) code" in user["content"]
    assert "only the signatures" in user["content"] and "def f(): ..." in user["content"]
    assert "`one.py`" in user["content"] and "requirements" not in user["content"]
    with pytest.raises(ValueError, match="context level 4"):
        context_messages("x", 4, ["one.py"])


class Recorder:
    def __init__(self):
        self.name, self.prompts = "rec", []

    def generate(self, prompts, n, temperature, max_new_tokens, seed, *, top_p=1.0):
        self.prompts += prompts
        return [[""] * n for _ in prompts]


def test_context_backend_rewrites_every_prompt():
    inner = Recorder()
    backend = ContextPromptBackend(inner, {"one": "CODE-OF-ONE"}, level=2)
    out = backend.generate([build_prompt(APPS[0], ["ignored"])], 1, 0.0, 8, 0)
    assert out == [[""]]
    (prompt,) = inner.prompts
    assert "CODE-OF-ONE" in prompt.messages[1]["content"]
    assert "ignored" not in prompt.messages[1]["content"]
    assert prompt.prompt_version == ablation.CONTEXT_PROMPT_VERSION


# ---------------------------------------------------------------- conditions end to end


def _run(name, members, tmp_path, **kwargs):
    orchestra = OrchestraConfig(members=tuple(BackendSpec(m, m) for m in members))
    return run_condition(
        name,
        APPS,
        train_apps=TRAIN,
        orchestra=orchestra,
        harness=FAST,
        backends=kwargs.pop("backends", {}),
        outputs_dir=tmp_path,
        **kwargs,
    )


def test_conditions_on_calibration_backends(tmp_path):
    gold = _run("gold", ["oracle", "null"], tmp_path)
    assert gold.evaluation.pass_rates == {"one": 0.5, "two": 0.5}
    assert gold.evaluation.bleu == pytest.approx(1.0)
    assert len(gold.reconstruction.records) == 4
    level2 = _run("level2", ["oracle"], tmp_path)
    assert level2.evaluation.pass_rate == 1.0 and math.isnan(level2.evaluation.bleu)
    phase1 = _run("phase1", ["null"], tmp_path)
    assert phase1.evaluation.pass_rate == 0.0
    borrowed = phase1.evaluation.requirements["one"]
    assert borrowed in [list(app.requirements) for app in TRAIN]  # a training app's gold
    missing = _run("phase2_stage2", ["oracle"], tmp_path)
    assert not missing.measured and missing.unavailable.startswith("not available (no check")
    summary = pass_rate_summary({"gold": gold, "level2": level2, "phase2_stage2": missing})
    assert summary["phase2_stage2"] is None
    assert summary["gold"]["mean"] == 0.5 and summary["gold"]["n_apps"] == 2
    assert (summary["level2"]["ci_low"], summary["level2"]["ci_high"]) == (1.0, 1.0)


def test_context_condition_sends_the_degraded_code(tmp_path):
    recorder = Recorder()
    result = _run("level3", ["rec"], tmp_path, backends={"rec": recorder})
    user = recorder.prompts[0].messages[1]["content"]
    assert "def f():\n    ..." in user  # signatures only: the body is gone
    assert "return 1" not in user and "the answer" not in user
    assert result.evaluation.failure_counts == {"EMPTY_GENERATION": 2}


def test_stage_checkpoint_is_loaded_when_present(tmp_path):
    from cetd_lib.models import make_extractor

    stage = tmp_path / "runs" / "train-run" / "artifacts" / "stage1"
    make_extractor("lm", base_model="tiny-random").save(stage, metadata={"step": 1})
    _record_training(tmp_path, "train-run", train=["three", "four"], val=[])
    result = _run("phase2_stage1", ["null"], tmp_path, phase2_run_id="train-run", max_new_tokens=4)
    assert result.measured and result.checkpoint == str(stage)
    assert result.evaluation.pass_rate == 0.0


def _record_training(outputs, run_id, *, train, val):
    path = outputs / "runs" / run_id / "artifacts" / "train_summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"apps": {"train": train, "val": val}}))


def test_ablation_refuses_apps_the_checkpoint_run_trained_on(tmp_path):
    stage = tmp_path / "runs" / "r7" / "artifacts" / "stage2"
    stage.mkdir(parents=True)
    (stage / "extractor.json").write_text("{}")  # never loaded: the refusal comes first
    _record_training(tmp_path, "r7", train=["one", "three"], val=["two"])
    with pytest.raises(
        TrainingAppError, match=r"run 'r7'.*trained on \['one'\].*\['two'\] \(val\)"
    ):
        _run("phase2_stage2", ["null"], tmp_path, phase2_run_id="r7")
    # a run without the record falls back to its split manifest
    (tmp_path / "runs" / "r7" / "artifacts" / "train_summary.json").unlink()
    (tmp_path / "runs" / "r7" / "artifacts" / "splits.json").write_text(
        json.dumps({"seed": 0, "splits": {"train": ["two"], "val": [], "test": ["one"]}})
    )
    with pytest.raises(TrainingAppError, match=r"trained on \['two'\]"):
        _run("phase2_stage2", ["null"], tmp_path, phase2_run_id="r7")
    (tmp_path / "runs" / "r7" / "artifacts" / "splits.json").unlink()
    with pytest.raises(TrainingAppError, match="records no training apps"):
        _run("phase2_stage2", ["null"], tmp_path, phase2_run_id="r7")
    # conditions without a checkpoint never consult the run
    assert _run("gold", ["null"], tmp_path, phase2_run_id="r7").measured


def test_requirement_conditions_pass_the_guard_context_conditions_do_not(tmp_path):
    calls = []

    def reject_everything(app, requirements):
        calls.append(app.app_id)
        return ("test_rule",)

    gold = _run("gold", ["oracle"], tmp_path, screen=reject_everything)
    assert gold.evaluation.pass_rates == {"one": 0.0, "two": 0.0}  # the oracle would give 1
    assert gold.evaluation.guard_rejected == {"one": ["test_rule"], "two": ["test_rule"]}
    calls.clear()
    level2 = _run("level2", ["oracle"], tmp_path, screen=reject_everything)
    assert calls == [] and level2.evaluation.pass_rate == 1.0  # code shown on purpose
