"""Live metrics land in the run record, the headless view is throttled by an injected clock, and
training_config.json resumes a run with the same random numbers."""

from __future__ import annotations

import io
import json
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cetd_lib.monitor import (
    LiveMetrics,
    MetricKeyError,
    hf_logs_to_metrics,
    nanmean,
    reward_metrics,
)
from cetd_lib.tracking import RunRecord
from cetd_lib.training_config import (
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
    live = LiveMetrics(
        run, every_s=every_s, display="text", tensorboard="off", clock=clock, stream=stream
    )
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

    from cetd_lib.monitor import LiveMetricsCallback

    live, _ = text_live(run, FakeClock())
    callback = LiveMetricsCallback(live)
    assert isinstance(callback, TrainerCallback)
    state = SimpleNamespace(global_step=7, is_world_process_zero=True)
    callback.on_log(None, state, None, logs={"loss": 0.9, "grad_norm": 1.2})
    assert run.metrics()[-1]["step"] == 7
    assert run.metrics()[-1]["losses/train"] == 0.9
    assert run.metrics()[-1]["charts/grad_norm"] == 1.2


def test_tensorboard_on_without_the_package_says_how_to_install(run):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install tensorboard"):
            LiveMetrics(run, display="off", tensorboard="on")
        assert LiveMetrics(run, display="off", tensorboard="auto").writer is None
    else:
        live = LiveMetrics(run, display="off", tensorboard="on")
        live.log(0, **{"losses/train": 1.0})
        live.close()
        assert any((run.dir / "tensorboard").iterdir())


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
    live = LiveMetrics(run, plot_every_s=10.0, display="notebook", tensorboard="off", clock=clock)
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
