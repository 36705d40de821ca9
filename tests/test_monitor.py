"""Live metrics land in the run record, the headless view is throttled by an injected clock, and
training_config.json resumes a run with the same random numbers."""

from __future__ import annotations

import io
import json
import math
import random
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cetd_lib.tracking.live import (
    LiveMetrics,
    MetricKeyError,
    hf_logs_to_metrics,
    nanmean,
    reward_metrics,
)
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.tracking.training_config import (
    TrainingConfigError,
    hash_files,
    load_training_config,
    save_training_config,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def run(tmp_path):
    return RunRecord.open(tmp_path, "live", kind="stage1")


def text_live(run, clock, every_s=30.0):
    stream = io.StringIO()
    live = LiveMetrics(run, every_s=every_s, display="text", clock=clock, stream=stream)
    return live, stream


def test_every_log_reaches_metrics_jsonl_nan_as_null(run):
    live, _ = text_live(run, FakeClock())
    live.log(0, **{"losses/train": 2.5, "rewards/recon/mean": float("nan")})
    live.log(1, **{"losses/train": np.float32(2.0), "charts/lr": torch.tensor(1e-4)})
    rows = run.metrics()
    assert [r["step"] for r in rows] == [0, 1]
    assert rows[0]["rewards/recon/mean"] is None  # JSON has no NaN
    assert rows[1]["losses/train"] == 2.0 and rows[1]["charts/lr"] == pytest.approx(1e-4)
    assert "NaN" not in (run.dir / "metrics.jsonl").read_text()


def test_headless_lines_are_throttled_without_sleeping(run):
    clock = FakeClock()
    live, stream = text_live(run, clock, every_s=30.0)
    for step in range(10):  # 10 rows within 9 s: one line
        live.log(step, **{"losses/train": 1.0 / (step + 1)})
        clock.now += 1.0
    assert stream.getvalue().count("\n") == 1
    assert stream.getvalue().startswith("step 0 |")
    clock.now += 25.0  # 34 s after the first line
    live.log(10, **{"losses/train": 0.05})
    assert stream.getvalue().count("\n") == 2
    live.log(11, **{"losses/train": 0.04})  # held back ...
    assert stream.getvalue().count("\n") == 2
    live.close()  # ... until close shows the last row
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("step 11 |")
    assert "losses/train 0.04" in lines[-1]
    assert len(run.metrics()) == 12  # throttling never drops a row from the record


def test_progress_lines_give_step_of_total_and_an_eta_from_the_pace(run):
    clock = FakeClock()
    live, stream = text_live(run, clock, every_s=0.0)
    live.log(0, **{"losses/train": 1.0})
    assert stream.getvalue().splitlines()[-1].startswith("step 0 |")  # no total announced
    live.expect(10, phase="stage1", start_step=2)  # e.g. resumed at step 2
    clock.now += 60.0
    live.log(5, phase="stage1", **{"losses/train": 0.5})  # 3 steps in 60 s: 5 left, 100 s
    assert stream.getvalue().splitlines()[-1].startswith("stage1 step 5/10, ETA 1m40s | 60s |")
    clock.now += 100.0
    live.log(10, phase="stage1", **{"losses/train": 0.1})
    assert stream.getvalue().splitlines()[-1].startswith("stage1 step 10/10 |")


def test_headless_kernels_print_lines_instead_of_drawing(run, monkeypatch):
    from cetd_lib.tracking import live as monitor
    from cetd_lib.tracking import progress

    monkeypatch.setattr(monitor, "in_notebook", lambda: True)
    monkeypatch.delenv(progress.HEADLESS_ENV, raising=False)
    assert LiveMetrics(run).mode == "notebook"
    monkeypatch.setenv(progress.HEADLESS_ENV, "1")
    assert LiveMetrics(run).mode == "text"


def test_accumulated_values_are_averaged_with_nan_and_none_left_out(run):
    live, _ = text_live(run, FakeClock())
    live.accumulate(**{"rewards/recon/mean": [1.0, None]})
    live.accumulate(**{"rewards/recon/mean": float("nan")})
    live.accumulate(**{"rewards/recon/mean": 0.0})
    row = live.log(3, **{"completions/mean_length": [10, 20, float("nan")]})
    assert row["rewards/recon/mean"] == 0.5
    assert row["completions/mean_length"] == 15.0
    assert "rewards/recon/mean" not in live.log(4, **{"losses/train": 1.0})  # buffer emptied


def test_keys_need_a_group_prefix(run):
    live, _ = text_live(run, FakeClock())
    with pytest.raises(MetricKeyError, match="losses/loss"):
        live.log(0, loss=1.0)
    with pytest.raises(TypeError, match="not a number"):
        live.log(0, **{"losses/train": object()})


def test_nan_aware_helpers_against_hand_computed_numbers():
    assert nanmean([1.0, float("nan"), None, 3.0]) == 2.0
    assert math.isnan(nanmean([None, float("nan")]))
    metrics = reward_metrics("recon", [0.0, 1.0, 0.5, 0.5, None, 1.0], group_size=2)
    assert metrics["rewards/recon/mean"] == pytest.approx(0.6)
    # values 0, 1, .5, .5, 1: mean .6, deviations^2 .36 .16 .01 .01 .16 -> var .14
    assert metrics["rewards/recon/std"] == pytest.approx(math.sqrt(0.14))
    assert metrics["rewards/recon/frac_zero_std"] == pytest.approx(2 / 3)  # (.5,.5) and (1,)
    with pytest.raises(ValueError, match="groups of 4"):
        reward_metrics("recon", [1.0, 2.0, 3.0], group_size=4)


def test_hf_trainer_logs_map_onto_groups(run):
    logs = {
        "loss": 1.5,
        "learning_rate": 2e-5,
        "epoch": 0.5,
        "eval_loss": 1.7,
        "rewards/recon/mean": 0.3,
        "reward": 0.3,
        "kl": 0.01,
        "note": "text is dropped",
    }
    assert hf_logs_to_metrics(logs) == {
        "losses/train": 1.5,
        "charts/learning_rate": 2e-5,
        "charts/epoch": 0.5,
        "losses/eval": 1.7,
        "rewards/recon/mean": 0.3,
        "rewards/mean": 0.3,
        "losses/kl": 0.01,
    }


def test_trainer_callback_logs_into_live_metrics(run):
    from transformers import TrainerCallback

    from cetd_lib.tracking.live import LiveMetricsCallback

    live, _ = text_live(run, FakeClock())
    callback = LiveMetricsCallback(live)
    assert isinstance(callback, TrainerCallback)
    state = SimpleNamespace(global_step=7, max_steps=20, is_world_process_zero=True)
    callback.on_log(None, state, None, logs={"loss": 0.9, "grad_norm": 1.2})
    assert run.metrics()[-1]["step"] == 7
    assert run.metrics()[-1]["losses/train"] == 0.9
    assert run.metrics()[-1]["charts/grad_norm"] == 1.2


def test_report_to_tensorboard_mirrors_every_series_readable_by_tensorboard(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    live = LiveMetrics(run, display="off", report_to=["tensorboard"])
    live.log(1, phase="stage1", **{"losses/train": 2.0, "charts/learning_rate": 1e-4})
    live.log(2, phase="stage1", **{"losses/train": 1.5, "rewards/all": [0.0, 1.0]})
    live.close()
    events = EventAccumulator(str(run.dir / "tensorboard"))
    events.Reload()
    for row in run.metrics():  # every numeric value of metrics.jsonl, at its step
        for key, value in row.items():
            if key in ("step", "time") or value is None:  # the record's own bookkeeping
                continue
            by_step = {e.step: e.value for e in events.Scalars(key)}
            assert by_step[row["step"]] == pytest.approx(value)
    assert sorted(events.Tags()["scalars"]) == sorted(
        {k for row in run.metrics() for k in row if k not in ("step", "time")}
    )


def test_report_to_names_the_field_and_the_package_to_install(run, monkeypatch):
    with pytest.raises(ValueError, match=r"report_to.*expected 'none' or any of"):
        LiveMetrics(run, display="off", report_to=["wandb"])
    assert LiveMetrics(run, display="off", report_to="none").trackers == []
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'mlflow'"):
        LiveMetrics(run, display="off", report_to=["tensorboard", "mlflow"])


# ---------------------------------------------------------------------------------------------
# training_config.json
# ---------------------------------------------------------------------------------------------


def draw() -> tuple:
    """What a training loop consumes: python, numpy and torch random numbers."""
    return (
        random.random(),
        random.gauss(0, 1),
        np.random.normal(size=3).tolist(),
        torch.randn(4).tolist(),
        torch.randint(0, 100, (3,)).tolist(),
    )


def test_training_config_round_trips_into_a_resumed_run(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"x": 1}\n')
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    schedule = {"name": "cosine", "epochs": 3, "warmup_steps": 10}

    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    draw()  # the run trains a while
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    path = save_training_config(
        tmp_path / "ckpt", {"hidden": 3}, optimizer, schedule, hash_files([data]), 7, step=120
    )
    uninterrupted = [draw() for _ in range(3)]

    random.seed(999)  # a new process would start elsewhere
    np.random.seed(999)
    torch.manual_seed(999)
    config = load_training_config(path.parent)
    resumed = [draw() for _ in range(3)]
    assert resumed == uninterrupted

    assert json.loads(path.read_text())["rng_state"]["torch"]  # base64 text, no pickle
    assert config.step == 120 and config.seed == 7
    assert config.optimizer["class"] == "AdamW" and config.optimizer["weight_decay"] == 0.1
    assert config.schedule == schedule and config.model_config == {"hidden": 3}
    config.verify_data()
    data.write_text('{"x": 2}\n')
    with pytest.raises(TrainingConfigError, match="changed since the checkpoint"):
        config.verify_data()


def test_training_config_errors_name_the_file(tmp_path):
    with pytest.raises(TrainingConfigError, match="not found"):
        load_training_config(tmp_path)
    (tmp_path / "training_config.json").write_text('{"format_version": 1}')
    with pytest.raises(TrainingConfigError, match="missing keys"):
        load_training_config(tmp_path)
    with pytest.raises(TypeError, match="seed must be an int"):
        save_training_config(tmp_path, {}, {}, {}, {}, "7")


def test_notebook_view_redraws_at_most_every_plot_every_s(run, monkeypatch):
    clock = FakeClock()
    live = LiveMetrics(run, plot_every_s=10.0, display="notebook", clock=clock)
    draws = []
    monkeypatch.setattr(live, "_draw", lambda: draws.append(live.last_step))
    for step in range(5):
        live.log(step, **{"losses/train": 1.0})
        clock.now += 3.0
    assert draws == [0, 4]  # t=0 and t=12
    live.close()
    assert draws == [0, 4]  # nothing new to show
    live.log(5, **{"losses/train": 0.5})
    live.close()
    assert draws == [0, 4, 5]


# ---------------------------------------------------------------------------------------------
# Phases, the trainer callback's throughput, and real (tiny) training runs
# ---------------------------------------------------------------------------------------------


def test_phases_share_one_record_and_get_their_own_panels(run):
    from cetd_lib.tracking.series import grouped, metric_group, split_phase

    live, stream = text_live(run, FakeClock(), every_s=0.0)
    live.log(1, phase="stage1", **{"losses/train": 2.0, "charts/tokens_per_s": 100.0})
    live.log(1, phase="stage2", **{"losses/kl": 0.1, "rewards/mean": 0.25})
    assert run.metrics()[0]["stage1/losses/train"] == 2.0
    assert run.metrics()[1]["stage2/rewards/mean"] == 0.25
    assert split_phase("guard/rule/empty") == ("", "guard/rule/empty")  # a group, not a phase
    assert metric_group("stage2/rewards/mean") == metric_group("rewards/recon/mean") == "rewards"
    assert list(grouped(live.latest)) == [
        "stage1/losses", "stage1/charts", "stage2/losses", "stage2/rewards",
    ]  # fmt: skip
    # a stage-2 line shows stage 2's numbers only
    assert stream.getvalue().splitlines()[-1].startswith("stage2 step 1 |")
    assert "tokens_per_s" not in stream.getvalue().splitlines()[-1]
    with pytest.raises(MetricKeyError, match="one word"):
        live.log(2, phase="losses", **{"losses/train": 1.0})


def test_trainer_callback_adds_throughput_by_the_live_clock(run):
    from cetd_lib.tracking.live import LiveMetricsCallback

    clock = FakeClock()
    live, stream = text_live(run, clock)
    callback = LiveMetricsCallback(live, phase="stage2", samples_per_step=8)
    state = SimpleNamespace(global_step=0, max_steps=20, is_world_process_zero=True)
    callback.on_train_begin(None, state, None)
    clock.now += 4.0
    state.global_step = 2  # 2 steps x 8 samples and 400 tokens in 4 s
    callback.on_log(None, state, None, logs={"loss": 1.0, "num_tokens": 400.0, "reward": 0.5})
    row = run.metrics()[-1]
    assert row["stage2/charts/samples_per_s"] == 4.0
    assert row["stage2/charts/tokens_per_s"] == 100.0
    assert row["stage2/rewards/mean"] == 0.5
    # the trainer's max_steps is the total of the progress line: 2 steps in 4 s, 18 to go
    assert stream.getvalue().startswith("stage2 step 2/20, ETA 36s |")
    clock.now += 1.0
    callback.pause(1.0)  # one second of validation is not training time
    clock.now += 2.0
    state.global_step = 3
    callback.on_log(None, state, None, logs={"loss": 0.9, "num_tokens": 500.0})
    assert run.metrics()[-1]["stage2/charts/samples_per_s"] == 4.0  # 8 samples / 2 s
    assert run.metrics()[-1]["stage2/charts/tokens_per_s"] == 50.0
    callback.on_log(None, state, None, logs={"train_runtime": 7.0, "train_loss": 0.95})
    final = run.metrics()[-1]  # the end-of-training row: no new step, no throughput
    assert "stage2/charts/samples_per_s" not in final
    assert final["stage2/losses/train_mean"] == 0.95


def _tiny_apps():
    from cetd_lib.apps.app import App

    return [
        App(f"app{i}", {f"m{i}.py": f"def f{i}(x):\n    return x + {i}\n"}, {"t.py": "x = 1\n"},
            (f"f{i} adds {i} to its argument.",))
        for i in range(3)
    ]  # fmt: skip


def _seed_extractor(tiny_base):
    import copy

    from cetd_lib.models.extractor import make_extractor

    model, tokenizer = tiny_base
    return make_extractor(
        "seed", base=(copy.deepcopy(model), tokenizer), base_model="tiny-random",
        max_code_tokens=64, max_target_tokens=16, decoder_layers=1, decoder_feedforward=64,
        tie_output_embeddings=True,
    )  # fmt: skip


def test_tiny_stage1_and_stage2_runs_log_grouped_metrics_with_throttled_lines(
    tiny_base, tmp_path, capsys
):
    """Both stages of a tiny seed-variant run log into one LiveMetrics: every step reaches
    metrics.jsonl under its phase, while the clock (frozen here) lets one line per phase out."""
    from cetd_lib.train.config import Stage1Config, Stage2Config
    from cetd_lib.train.reward import make_reconstruction_reward
    from cetd_lib.train.stage1 import train_stage1
    from cetd_lib.train.stage2 import train_stage2

    apps = _tiny_apps()
    run = RunRecord.open(tmp_path, "phase2-tiny")
    clock = FakeClock()
    live, stream = text_live(run, clock, every_s=30.0)
    extractor = _seed_extractor(tiny_base)
    s1 = Stage1Config(epochs=2, batch_size=1, logging_steps=1, val_max_new_tokens=4)
    train_stage1(extractor, apps[:2], apps[2:], s1, tmp_path / "s1", live=live)
    lines_after_stage1 = stream.getvalue().splitlines()
    reward = make_reconstruction_reward(
        {a.app_id: a for a in apps[:2]}, reconstruct_fn=lambda apps, lists: [0.5] * len(apps)
    )
    s2 = Stage2Config(
        algorithm="loop", batch_size=1, num_samples=2, max_new_tokens=4, beta=0.1, max_steps=2
    )
    train_stage2(extractor, apps[:2], reward, s2, tmp_path / "s2", live=live)
    live.close()

    rows = run.metrics()
    stage1_steps = [r for r in rows if "stage1/losses/train" in r]
    assert [r["step"] for r in stage1_steps] == [1, 2, 3, 4]  # logging_steps=1: every step
    for row in stage1_steps:
        assert row["stage1/charts/tokens_per_s"] > 0 and row["stage1/charts/samples_per_s"] > 0
        assert row["stage1/charts/learning_rate"] > 0
    epochs = [r for r in rows if "stage1/eval/bleu" in r]
    stage2 = [r for r in rows if "stage2/rewards/mean" in r]
    assert len(stage2) == 2  # two apps, one per step
    assert [r["stage1/charts/epoch"] for r in epochs] == [1.0, 2.0]  # epochs done
    assert [r["stage2/charts/epoch"] for r in stage2] == [0.5, 1.0]  # epoch progress, as HF
    assert all(r["stage1/losses/val"] > 0 for r in epochs)
    for row in stage2:  # a random model writes texts the guard may reject (reward 0)
        assert row["stage2/rewards/mean"] in (0.0, 0.25, 0.5) and row["stage2/rewards/std"] >= 0
        assert row["stage2/rewards/frac_zero_std"] in (0.0, 1.0)  # one group of 2 per step
        assert row["stage2/rewards/pass_rate"] in (None, 0.5)  # None: nothing reconstructed
        assert 0.0 <= row["stage2/guard/leak_rate"] <= 1.0
        assert row["stage2/losses/kl"] is not None and row["stage2/losses/kl"] >= 0.0
        assert row["stage2/charts/samples_per_s"] > 0
        assert 0.0 <= row["stage2/charts/reconstruction_time_share"] <= 1.0

    # Frozen clock: 6 stage-1 rows print as 1 line; the phase change shows stage 1's last row
    # and stage 2's first; close shows the last.
    # Each line says how far its phase is (the clock is frozen, so the ETA is 0s).
    first = lines_after_stage1[0]
    assert len(lines_after_stage1) == 1 and first.startswith("stage1 step 1/4, ETA 0s |")
    lines = stream.getvalue().splitlines()
    assert [line.split(" |")[0] for line in lines] == [
        "stage1 step 1/4, ETA 0s", "stage1 step 4/4", "stage2 step 1/2, ETA 0s", "stage2 step 2/2",
    ], lines  # fmt: skip
    assert "eval/bleu" in lines[1]  # stage 1's last row was its epoch-2 validation
    assert "losses/train" not in lines[3] and "rewards/mean" in lines[3]
    assert capsys.readouterr().out == ""  # nothing else went to stdout


def test_training_report_has_a_row_for_every_phase_that_ran(tmp_path):
    """A Phase-2 run (two phases, wall times recorded by the pipeline) and a mutation-RL run
    (wall time from its rows): the report lists each phase with epochs, steps and throughput."""
    from cetd_lib.tracking.report import write_training_report

    phase2 = RunRecord.open(tmp_path, "phase2-x", kind="phase2")
    live, _ = text_live(phase2, FakeClock())
    for step in (1, 2):
        live.log(
            step,
            phase="stage1",
            **{"losses/train": 3.0 / step, "charts/tokens_per_s": 100.0 * step},
        )
    live.log(2, phase="stage1", **{"eval/bleu": 0.1, "charts/epoch": 1.0})
    live.log(1, phase="stage2", **{"rewards/mean": 0.2, "charts/samples_per_s": 4.0})
    live.close()
    phase2.write_summary(
        {
            "phases": {"stage1": {"epochs": 1, "wall_time_s": 90.0}, "stage2": {"wall_time_s": 5}},
            "criteria": [{"name": "reconstruction pass rate", "target": 0.5, "value": 0.25}],
        }
    )
    phase2.finish()
    mrl = RunRecord.open(tmp_path, "mrl-y", kind="mutation_rl")
    mrl.log_metrics(1, **{"mutation_rl/rewards/mean": 0.4})
    mrl.log_metrics(2, **{"mutation_rl/rewards/mean": 0.5, "mutation_rl/charts/samples_per_s": 2})

    text = write_training_report(tmp_path, phase2, build_dashboard=False).read_text()
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["| stage1"].startswith("| stage1 | 1 | 2 | 1m30s |")
    assert "charts/tokens_per_s 150" in rows["| stage1"]  # mean over the phase's rows
    assert rows["| stage2"].startswith("| stage2 | — | 1 | 0m05s |")
    assert "charts/samples_per_s 4" in rows["| stage2"]
    assert rows["| mutation_rl"].startswith("| mutation_rl | — | 2 |")
    assert "**Phases that ran** (stage1, stage2)" in text
    assert "**Phases that ran** (mutation_rl)" in text
    assert "| reconstruction pass rate | > 0.5 | 0.250 | **missed** |" in text


def test_live_figure_keeps_scales_apart_and_leaves_bookkeeping_to_the_table(run):
    """A 1e9 FLOP count in the throughput panel would flatten every other line: the live
    figure draws headline metrics, a panel per phase and quantity; the table keeps every key."""
    from cetd_lib.tracking.html import latest_table_html
    from cetd_lib.tracking.live import live_panels

    live, _ = text_live(run, FakeClock())
    live.log(
        1,
        phase="stage2",
        **{
            "losses/kl": 0.01,
            "rewards/mean": 0.5,
            "rewards/reconstruction/mean": 0.5,
            "guard/leak_rate": 0.1,
            "guard/rule/empty": 3.0,
            "charts/tokens_per_s": 120.0,
            "charts/samples_per_s": 2.0,
            "charts/total_flos": 9e9,
        },
    )
    panels = live_panels(live.history)
    assert list(panels) == [
        "stage2/losses", "stage2/rewards", "stage2/guard", "stage2/tokens/s", "stage2/samples/s",
    ]  # fmt: skip
    assert list(panels["stage2/rewards"]) == ["mean"] and list(panels["stage2/guard"]) == [
        "leak_rate"
    ]
    assert "stage2/charts/total_flos" in latest_table_html(live.latest, live.last_step)
    assert len(live.figure().axes) >= 5


def test_progress_and_report_doctests():
    import doctest

    from cetd_lib.tracking import progress, report

    assert doctest.testmod(progress).attempted >= 1 and doctest.testmod(progress).failed == 0
    assert doctest.testmod(report).attempted >= 1 and doctest.testmod(report).failed == 0


def test_headless_progress_bar_is_a_plain_line_on_stderr(monkeypatch, capsys):
    from cetd_lib.tracking import progress

    monkeypatch.setenv(progress.HEADLESS_ENV, "1")
    assert list(progress.progress_bar(range(3), desc="rebuilds", total=3)) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "rebuilds" in err and "3/3" in err


class _FakeTracker(types.ModuleType):
    """Stands in for mlflow / trackio (not installed here): records the calls LiveMetrics makes."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.calls: list[tuple] = []

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def call(*args, **kwargs):
            self.calls.append((attr, args, kwargs))
            return SimpleNamespace(info=SimpleNamespace(run_id="r1"))

        return call


@pytest.mark.parametrize("name", ["mlflow", "trackio"])
def test_report_to_mlflow_and_trackio_get_each_row_at_its_step(run, monkeypatch, name):
    fake = _FakeTracker(name)
    monkeypatch.setitem(sys.modules, name, fake)
    live = LiveMetrics(run, display="off", report_to=[name])
    live.log(3, phase="stage1", **{"losses/train": 2.0})
    live.close()
    logged = [(args, kwargs) for attr, args, kwargs in fake.calls if attr.startswith("log")]
    assert logged == [(({"stage1/losses/train": 2.0},), {"step": 3})]
    assert {"start_run", "init"} & {attr for attr, _, _ in fake.calls}
    assert fake.calls[-1][0] in ("end_run", "finish")
