import math

import pytest

from cetd_lib.apps.app import App
from cetd_lib.evaluation.phase2 import (
    CONTROL_PAIRS,
    PAIRS,
    REQUIREMENT_SOURCES,
    SourceContext,
    SourceEvaluation,
    comparison_table,
    evaluate_source,
    load_phase2_apps,
    paired_analysis,
    requirements_from,
    success_criteria,
    to_json,
)
from cetd_lib.params import EvalConfig
from cetd_lib.reconstruction.config import BackendSpec, OrchestraConfig
from cetd_lib.sandbox.config import HarnessConfig

CALIBRATION = OrchestraConfig(
    members=(BackendSpec("oracle", "oracle"), BackendSpec("null", "null"))
)


def app(app_id: str, value: int) -> App:
    return App(
        app_id,
        {"m.py": f"def f():\n    return {value}\n"},
        {"test_m.py": f"from m import f\n\ndef test_f():\n    assert f() == {value}\n"},
        (f"`m.py` defines `f()` returning {value}.", "No other behaviour.", "a", "b", "c"),
    )


def test_splits_are_disjoint_and_the_cap_is_a_seeded_sample_within_each_split():
    full = load_phase2_apps(None, include_humaneval=True, max_apps=None)
    capped = load_phase2_apps(None, include_humaneval=True, max_apps=5)
    seen = [a.app_id for members in full.splits.values() for a in members]
    assert len(seen) == len(set(seen)) == 40 + 164
    for name, members in capped.splits.items():
        ids = {a.app_id for a in members}
        assert len(ids) == 5 and ids <= {a.app_id for a in full[name]}
    assert any(a.origin == "humaneval" for a in capped["test"])
    again = load_phase2_apps(None, include_humaneval=True, max_apps=5)
    assert [a.app_id for a in again["test"]] == [a.app_id for a in capped["test"]]
    assert capped.retrieval_pool == full["train"]
    assert not any(a.origin == "holdout" for a in full.retrieval_pool)


def test_humaneval_only_leaves_out_the_bundled_apps_and_their_holdout():
    from cetd_lib.apps.app import DataConfig

    humaneval_only = DataConfig(include_apps_dir=False, include_humaneval=True)
    only = load_phase2_apps(None, include_humaneval=True, max_apps=None, data_config=humaneval_only)
    assert {a.origin for members in only.splits.values() for a in members} == {"humaneval"}
    assert sum(len(m) for m in only.splits.values()) == 164 and only.holdout == []
    assert list(only.row_sets("test")) == ["test"]
    with pytest.raises(ValueError, match="no apps"):
        DataConfig(include_apps_dir=False, include_humaneval=False)


def test_holdout_apps_are_their_own_row_set_and_never_in_a_split():
    from cetd_lib.apps.app import load_apps

    full = load_phase2_apps(None, include_humaneval=False, max_apps=None)
    bundled_holdout = [a.app_id for a in load_apps(holdout_only=True)]
    assert [a.app_id for a in full.holdout] == bundled_holdout and len(bundled_holdout) >= 1
    assert all(a.origin == "holdout" for a in full["holdout"])
    in_splits = {a.app_id for members in full.splits.values() for a in members}
    assert not in_splits & set(bundled_holdout)
    rows = full.row_sets("test")
    assert list(rows) == ["test", "holdout"] and rows["holdout"] == full.holdout
    assert list(full.row_sets("test", holdout=False)) == ["test"]
    capped = load_phase2_apps(None, include_humaneval=False, max_apps=2)
    assert len(capped.holdout) == 2 and {a.app_id for a in capped.holdout} <= set(bundled_holdout)


def test_paired_analysis_decides_the_ranking_per_row_set():
    apps = [app(f"a{i}", i) for i in range(8)]
    ids = [a.app_id for a in apps]

    def ev(source, rate):
        return SourceEvaluation(source, ids, {}, 0.0, 0.0, {i: rate(k) for k, i in enumerate(ids)})

    evaluations = {
        "gold": ev("gold", lambda k: 1.0),
        "phase2_stage2": ev("phase2_stage2", lambda k: 0.5 + 0.01 * k),
        "phase2_stage1": ev("phase2_stage1", lambda k: 0.5 + 0.01 * (7 - k)),  # same mean
        "phase1": ev("phase1", lambda k: 0.0),
    }
    comparisons, ranking = paired_analysis(evaluations, test="sign", n_resamples=500)
    assert [(c.a, c.b) for c in comparisons] == list(PAIRS)
    assert all(c.p_holm >= c.p_value for c in comparisons)
    verdicts = {(p.higher, p.lower): p.verdict for p in ranking.pairs}
    assert verdicts == {
        ("gold", "phase2_stage2"): "holds",  # 8 of 8 apps: sign p = 2/256, Holm x5 < 0.05
        ("phase2_stage2", "phase2_stage1"): "not resolved",  # 4 wins, 4 losses
        ("phase2_stage1", "phase1"): "holds",
    }
    assert ranking.verdict == "not resolved"
    # the controls join the same Holm family: gold and each trained list against the
    # signatures alone (here: stage 2 = stage 1 = signatures, so neither beats them)
    evaluations["signature_only"] = ev("signature_only", lambda k: 0.5 + 0.01 * (7 - k))
    evaluations["gold_shuffled"] = ev("gold_shuffled", lambda k: 0.0)
    with_controls, _ = paired_analysis(evaluations, test="sign", n_resamples=500)
    assert [(c.a, c.b) for c in with_controls] == [*PAIRS, *CONTROL_PAIRS]
    by_pair = {(c.a, c.b): c for c in with_controls}
    # stage 1 and the signatures tie on every app: no test, so 8 comparisons in the family
    tied = by_pair["phase2_stage1", "signature_only"]
    assert (tied.test.wins, tied.test.losses, tied.test.ties) == (0, 0, 8)
    assert {c.family_size for c in with_controls} == {8}
    assert by_pair["gold", "signature_only"].p_value == 2 / 256  # 8 of 8 apps
    assert by_pair["signature_only", "gold_shuffled"].p_value == 2 / 256
    assert by_pair["phase2_stage2", "signature_only"].p_value > 0.05
    # a larger family corrects more: the same gold vs stage-2 test, a larger Holm p
    assert by_pair["gold", "phase2_stage2"].p_holm > comparisons[0].p_holm


def test_sources_registry_and_unknown_name():
    apps = [app("a", 1), app("b", 2), app("c", 3)]
    ctx = SourceContext(train_apps=apps)
    assert requirements_from("gold", apps, ctx)["a"] == list(apps[0].requirements)
    phase1 = requirements_from("phase1", apps, ctx)
    assert phase1["a"] != list(apps[0].requirements)  # never the app's own gold
    with pytest.raises(KeyError, match="registered"):
        requirements_from("gpt5", apps, ctx)
    with pytest.raises(ValueError, match="extractor"):
        requirements_from("extractor", apps, ctx)
    assert {"gold", "phase1", "extractor"} <= set(REQUIREMENT_SOURCES)


def test_evaluation_calibrates_oracle_and_null_and_counts_failures():
    apps = [app("a", 1), app("b", 2)]
    requirements = {"a": list(apps[0].requirements), "b": []}
    ev = evaluate_source("gold", apps, requirements, orchestra=CALIBRATION, harness=HarnessConfig())
    assert ev.pass_rates["a"] == pytest.approx(0.5)  # oracle 1.0, null 0.0
    assert ev.pass_rates["b"] == 0.0  # no requirements: nothing to rebuild from
    assert ev.failure_counts_by_app["b"] == {"NO_REQUIREMENTS": 2}
    assert sum(ev.failure_counts.values()) == sum(
        sum(c.values()) for c in ev.failure_counts_by_app.values()
    )
    assert ev.share_apps_above_75 == 0.0
    assert "| gold |" in comparison_table({"gold": ev})


def test_criteria_say_met_missed_or_not_measured():
    apps = [app("a", 1)]
    ev = evaluate_source(
        "gold",
        apps,
        {"a": list(apps[0].requirements)},
        orchestra=OrchestraConfig(members=(BackendSpec("oracle", "oracle"),)),
        harness=HarnessConfig(),
    )
    verdicts = {c.name: c.verdict for c in success_criteria(ev, EvalConfig())}
    assert set(verdicts.values()) == {"met"}
    ev.pass_rates["a"] = math.nan
    assert success_criteria(ev, EvalConfig())[1].verdict == "not measured"
    assert to_json({"x": math.nan}) == '{\n  "x": null\n}\n'


def test_the_study_params_evaluate_80_held_out_humaneval_apps_never_trained_on():
    from pathlib import Path

    from cetd_lib.params import load_params

    P = load_params(str(Path(__file__).resolve().parents[1] / "params" / "study.yaml"))
    apps = load_phase2_apps(
        P.data.apps_dir,
        include_humaneval=P.data.include_humaneval,
        max_apps=P.data.max_apps,
        data_config=P.data,
    )
    test_ids = {a.app_id for a in apps["test"]}
    assert len(test_ids) >= 80 and {a.origin for a in apps["test"]} == {"humaneval"}
    assert not test_ids & {a.app_id for a in apps["train"] + apps["val"]}
    # study v2: one greedy rebuild per list (as the calibration that found content signal), the
    # signatures-only control beside the sources, and the API block in every rebuild prompt
    assert P.orchestra.n_samples == 1 and P.orchestra.temperature == 0
    assert "signature_only" in P.eval.control_sources
    assert P.orchestra.prompt_version == "reconstruct-v2" and P.stage2.reward == "both"
    assert P.eval.context_level == P.stage1.context_level == P.stage2.context_level == 2


def test_load_recorded_apps_writes_the_split_manifest_and_app_hashes(tmp_path):
    import json

    from cetd_lib.apps.app import DataConfig
    from cetd_lib.evaluation import phase2
    from cetd_lib.tracking.runs import RunRecord

    run = RunRecord.open(tmp_path, "apps", kind="phase2")
    apps = phase2.load_recorded_apps(DataConfig(max_apps=2), run)
    manifest = json.loads((run.dir / "artifacts" / "splits.json").read_text())
    assert json.loads(apps.manifest.to_json()) == manifest
    hashes = run.manifest()["data_hashes"]
    assert hashes == {f"app:{k}": v for k, v in apps.manifest.content_hashes.items()}
    assert len(hashes) == 40  # every bundled app, not only the capped sample


def test_evaluation_applies_the_guard_rejects_score_zero_and_are_counted():
    from cetd_lib.train.config import GuardConfig
    from cetd_lib.train.guard import guard_screen

    apps = [app("a", 1), app("b", 2), app("c", 3)]
    oracle = OrchestraConfig(members=(BackendSpec("oracle", "oracle"),))  # always rebuilds
    pasted = ["Here it is:", "```python\ndef f():\n    return 2\n```"]
    requirements = {"a": list(apps[0].requirements), "b": pasted, "c": list(apps[2].requirements)}
    screen = guard_screen(GuardConfig())
    ev = evaluate_source(
        "leaky", apps, requirements, orchestra=oracle, harness=HarnessConfig(), screen=screen
    )
    assert ev.pass_rates == {"a": 1.0, "b": 0.0, "c": 1.0}  # b would pass 1.0 unguarded
    assert list(ev.guard_rejected) == ["b"] and "source_lcs" in ev.guard_rejected["b"]
    assert ev.guard_pass_share == pytest.approx(2 / 3)
    assert ev.to_dict()["guard_rejected"] == {"b": list(ev.guard_rejected["b"])}
    assert "| 1/3 |" in comparison_table({"leaky": ev})
    unguarded = evaluate_source("leaky", apps, requirements, orchestra=oracle,
                                harness=HarnessConfig())  # fmt: skip
    assert unguarded.pass_rates["b"] == 1.0 and math.isnan(unguarded.guard_pass_share)


def test_ratios_to_gold_carry_a_paired_bootstrap_interval():
    from cetd_lib.evaluation.phase2 import ratio_table, ratios_to_gold

    ids = [f"x{i}" for i in range(8)]

    def ev(name, values):
        return SourceEvaluation(name, ids, {}, 0.0, 0.0, dict(zip(ids, values, strict=True)))

    gold = [1.0, 0.5, 0.75, 0.25, 1.0, 0.5, 0.25, 0.75]
    stage2 = [0.5, 0.5, 0.25, 0.25, 1.0, 0.0, 0.0, 0.75]
    (r,) = ratios_to_gold({"gold": ev("gold", gold), "phase2_stage2": ev("s", stage2)})
    assert r.ratio == pytest.approx(sum(stage2) / sum(gold)) and r.n_apps == 8
    assert r.ci_low < r.ratio < r.ci_high
    assert f"| phase2_stage2 | {r.ratio:.1%} |" in ratio_table([r])
    assert ratios_to_gold({"phase1": ev("p", gold)}) == []
