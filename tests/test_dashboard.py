"""The HTML dashboard is one offline file with the plots inline; the training report covers every
run that ran. Runs are fake records written in tmp_path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cetd_lib.tracking.dashboard import (
    DashboardConfig,
    build_dashboard,
    error_analysis,
    notebook_html,
)
from cetd_lib.tracking.report import write_training_report
from cetd_lib.tracking.results import Estimate, ResultsTable, RowSet, SourceRow
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.tracking.training_config import save_training_config


def _evaluation(source: str, pass_rates: dict[str, float], failures: dict[str, int]) -> dict:
    return {
        "source": source,
        "app_ids": list(pass_rates),
        "requirements": {a: [f"{a} requirement {i}" for i in range(4)] for a in pass_rates},
        "pass_rates": pass_rates,
        "failure_counts": failures,
        "reconstruction": {
            "apps": [
                {"app_id": a, "label": "NO" if v == 0 else "PARTIAL" if v < 1 else "FULL"}
                for a, v in pass_rates.items()
            ]
        },
    }


ABLATION_TABLE = ResultsTable(
    kind="ablation",
    run_id="ablation-c",
    confidence=0.95,
    row_sets={
        "test": RowSet(
            ("a", "b", "c", "d"),
            {
                "gold": SourceRow(n_apps=4, metrics={"pass_rate": Estimate(0.8, 0.7, 0.9)}),
                "phase1": SourceRow(n_apps=4, metrics={"pass_rate": Estimate(0.3, 0.2, 0.45)}),
                "stage2": SourceRow(status="no phase-2 run given"),
            },
        )
    },
)


def make_fake_runs(outputs: Path) -> dict[str, RunRecord]:
    """A stage-1 training run with curves and a checkpoint, a phase-2 evaluation run, an
    ablation run and a failed run."""
    runs = {}
    train = RunRecord.open(outputs, "stage1-a", kind="stage1", seed=0)
    for step in range(0, 50, 5):
        train.log_metrics(
            step,
            **{
                "losses/train": 2.0 / (1 + step / 10),
                "losses/eval": 2.2 / (1 + step / 12),
                "rewards/reconstruction/mean": min(1.0, step / 60),
                "rewards/reconstruction/std": 0.1,
                "charts/learning_rate": 1e-4,
                "charts/epoch": step / 25,
                "charts/samples_per_s": 3.5,
            },
        )
    ckpt = train.artifact("checkpoints/epoch-2")
    ckpt.mkdir(parents=True)
    save_training_config(ckpt, {"base": "tiny"}, {"lr": 1e-4}, {"epochs": 2}, {}, 0, step=45)
    train.write_summary({"final_loss": 0.36, "epochs": 2, "criteria": []})
    train.finish()
    runs["stage1"] = train

    phase2 = RunRecord.open(outputs, "phase2-b", kind="phase2", seed=0)
    rates = {"game_of_life": 0.0, "lfu_cache": 0.25, "ring_buffer": 0.9, "humaneval_003": 1.0}
    evals = {
        "gold": _evaluation("gold", {a: min(1.0, v + 0.3) for a, v in rates.items()}, {}),
        "model": _evaluation(
            "model", rates, {"ASSERTION_FAILURE": 12, "MISSING_SYMBOL": 5, "NO_REQUIREMENTS": 3}
        ),
    }
    evals["model"]["failure_counts_by_app"] = {
        "game_of_life": {"MISSING_SYMBOL": 5, "ASSERTION_FAILURE": 8},
        "lfu_cache": {"ASSERTION_FAILURE": 4},
    }
    evals["model"]["requirements"]["lfu_cache"] = []
    for source, ev in evals.items():
        phase2.artifact(f"evaluation-{source}.json").write_text(json.dumps(ev))
    phase2.log_metrics(0, source="gold", bleu=1.0, pass_rate=0.8)
    phase2.log_metrics(1, source="model", bleu=0.2, pass_rate=0.54)
    phase2.write_summary(
        {
            "bleu": 0.2,
            "pass_rate": 0.54,
            "criteria": [
                {"name": "BLEU vs gold", "target": 0.6, "value": 0.2, "verdict": "missed"},
                {"name": "reconstruction pass rate", "target": 0.5, "value": 0.54},
            ],
        }
    )
    phase2.finish()
    runs["phase2"] = phase2

    ablation = RunRecord.open(outputs, "ablation-c", kind="ablation", seed=0)
    (ablation.dir / "results.json").write_text(json.dumps(ABLATION_TABLE.to_dict()))
    ablation.write_summary({"pass_rate": 0.8})
    ablation.finish()
    runs["ablation"] = ablation

    failed = RunRecord.open(outputs, "stage2-d", kind="stage2", seed=0)
    for step in range(0, 30, 5):
        failed.log_metrics(
            step, **{"losses/train": 1.8 / (1 + step / 8), "rewards/recon/mean": float("nan")}
        )
    failed.finish("failed")
    runs["failed"] = failed
    return runs


EXTERNAL = [
    re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I),
    re.compile(r"<script[^>]*\bsrc\b", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"@import|url\(", re.I),
]


@pytest.fixture(scope="module")
def fake_outputs(tmp_path_factory):
    """Fake runs and their dashboard, built once: rendering the plots is the slow part."""
    outputs = tmp_path_factory.mktemp("outputs")
    runs = make_fake_runs(outputs)
    path = build_dashboard(outputs)
    return outputs, runs, path


def assert_self_contained(text: str) -> None:
    for pattern in EXTERNAL:
        assert not pattern.search(text), f"external reference: {pattern.pattern}"
    assert "<script" not in text.lower()  # no scripts at all: nothing to fetch, nothing to run


def test_dashboard_is_one_offline_file_with_every_plot(fake_outputs):
    outputs, _, path = fake_outputs
    assert path == outputs / "dashboard" / "index.html"
    text = path.read_text()
    assert_self_contained(text)
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    for alt in (
        "Loss curves of stage1-a",
        "Reward curves of stage1-a",
        "Metric trends of stage1-a",
        "pass-rate histograms",
        "pass rate by source",
        "pass rate by source, test",
        "failure classes by source",
        "losses across runs",
        "summary by run",
    ):
        assert alt in images, f"missing plot {alt!r}; have {images}"
    for run_id in ("stage1-a", "phase2-b", "ablation-c", "stage2-d"):
        assert f'id="{run_id}"' in text
    assert "status-failed" in text


def test_error_analysis_groups_failures_and_flags_weak_categories(fake_outputs):
    _, runs, path = fake_outputs
    evaluation = json.loads(
        (runs["phase2"].dir / "artifacts" / "evaluation-model.json").read_text()
    )
    analysis = error_analysis(evaluation, threshold=0.5, max_examples=5)
    assert [a.app_id for a in analysis.by_category["bundled"]] == ["game_of_life", "lfu_cache"]
    assert [a.app_id for a in analysis.by_class["ASSERTION_FAILURE"]] == [
        "game_of_life",
        "lfu_cache",
    ]
    flags = {c.category: c.underperforming for c in analysis.categories}
    # bundled: mean(0, 0.25, 0.9) = 0.383 < 0.5; humaneval: 1.0
    assert flags == {"bundled": True, "humaneval": False}
    text = path.read_text()
    assert "MISSING_SYMBOL" in text and "no requirements written" in text
    assert "below 0.5" in text


def test_table_bars_are_the_measured_sources_with_their_cis(fake_outputs):
    from cetd_lib.tracking.views import table_bars

    metric, bars = table_bars(ABLATION_TABLE)["test"]
    assert metric == "pass_rate"
    assert [(b.source, b.pass_rate, b.low, b.high) for b in bars] == [
        ("gold", 0.8, 0.7, 0.9),
        ("phase1", 0.3, 0.2, 0.45),
    ]
    text = fake_outputs[2].read_text()
    assert '<td>stage2</td><td><span class="muted">no phase-2 run given</span></td>' in text
    assert "<td>gold</td><td>4</td><td>0.8 [0.7, 0.9]</td>" in text


def test_empty_outputs_give_a_page_saying_so(tmp_path):
    out = tmp_path / "elsewhere" / "dash.html"
    path = build_dashboard(tmp_path, out_path=out)
    assert path == out
    text = path.read_text()
    assert "No run records under" in text
    assert_self_contained(text)
    assert "cetd-dashboard" in notebook_html(path) and "<html" not in notebook_html(path)


def test_run_ids_pick_runs_and_unknown_ids_fail(fake_outputs, tmp_path):
    outputs = fake_outputs[0]
    text = build_dashboard(outputs, ["ablation-c"], tmp_path / "one.html").read_text()
    assert 'id="ablation-c"' in text and 'id="stage1-a"' not in text
    with pytest.raises(KeyError, match="nope"):
        build_dashboard(outputs, ["nope"], tmp_path / "none.html")


def test_dashboard_kind_runs_are_left_out(tmp_path):
    RunRecord.open(tmp_path, "dashboard-x", kind="dashboard").finish()
    assert "No run records" in build_dashboard(tmp_path).read_text()
    config = DashboardConfig(exclude_kinds=[])
    assert 'id="dashboard-x"' in build_dashboard(tmp_path, config=config).read_text()


def test_training_report_covers_every_run_with_targets(fake_outputs):
    tmp_path, runs, _ = fake_outputs
    path = write_training_report(tmp_path, runs["stage1"], build_dashboard=False)
    assert path.parent == tmp_path / "reports" and path.name.startswith("training-")
    text = path.read_text()
    for run_id, kind in [
        ("stage1-a", "stage1"),
        ("phase2-b", "phase2"),
        ("ablation-c", "ablation"),
        ("stage2-d", "stage2"),
    ]:
        assert f"## {kind}: {run_id}" in text
    assert "stage1-a (this run)" in text
    assert text.index("stage1-a (this run)") < text.index("## phase2: phase2-b")
    # verdicts recomputed from target and value (the summary's own verdict is not trusted)
    assert "| BLEU vs gold | > 0.6 | 0.200 | **missed** |" in text
    assert "| reconstruction pass rate | > 0.5 | 0.540 | **met** |" in text
    assert "charts/samples_per_s = 3.5" in text  # throughput
    assert "epochs: 2" in text
    assert "[epoch-2](../runs/stage1-a/artifacts/checkpoints/epoch-2)" in text
    assert "[dashboard](../dashboard/index.html)" in text
    assert (tmp_path / "dashboard" / "index.html").exists()
    assert "**failed**" in text
    second = write_training_report(tmp_path, "phase2-b", build_dashboard=False)
    assert second != path and path.exists()  # never overwrites an earlier report


def test_nan_metrics_do_not_break_curves(tmp_path):
    run = RunRecord.open(tmp_path, "r", kind="stage2")
    run.log_metrics(0, **{"losses/policy": float("nan")})
    run.log_metrics(1, **{"losses/policy": 1.0})
    text = build_dashboard(tmp_path).read_text()
    assert "Loss curves of r" in text


def test_phases_get_their_own_trend_plots_and_single_values_a_table(tmp_path):
    """A Phase-2 run logs stage1/... and stage2/...: each phase gets a metric-trends plot (the
    page says when it cuts panels), one-off values go to a table."""
    run = RunRecord.open(tmp_path, "p2", kind="phase2")
    for step in (1, 2, 3):
        run.log_metrics(
            step, **{"stage1/losses/train": 3.0 - step, "stage1/charts/tokens_per_s": 90.0}
        )
        run.log_metrics(
            step,
            **{"stage2/rewards/mean": 0.1 * step, "stage2/guard/leak_rate": 0.0}
            | {f"stage2/guard/rule/r{i:02d}": 0.0 for i in range(30)},
        )
    run.log_metrics(0, **{"eval/model/bleu": 0.25})
    text = build_dashboard(tmp_path).read_text()
    images = re.findall(r'<img alt="([^"]+)"', text)
    assert "Metric trends: stage1 of p2" in images and "Metric trends: stage2 of p2" in images
    assert "Loss curves of p2" in images and "Reward curves of p2" in images
    assert "(first 24 of 31 keys)" in text  # more keys than panels: the page says so
    assert "<h3>Logged once</h3>" in text
    assert "<td>eval/model/bleu</td><td>0</td><td>0.25</td>" in text
