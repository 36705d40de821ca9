"""The trackers researchers already use, fed with the same series as the run record.

`run.report_to` follows TRL/transformers' convention (`report_to="tensorboard"`, a list, or
"none"). LiveMetrics mirrors every row it writes to metrics.jsonl into each tracker opened here,
and the TRL trainers get the same list in their configs. The run record and the HTML dashboard
stay the default; a tracker whose package is missing is a clear error, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cetd_lib.tracking.runs import RunRecord

#: Tracker name -> (module to import, pip requirement to suggest when it is missing).
TRACKERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("torch.utils.tensorboard", "tensorboard==2.21.0"),
    "mlflow": ("mlflow", "mlflow"),
    "trackio": ("trackio", "trackio"),
}


class Tracker(Protocol):
    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def normalise_report_to(
    value: str | Sequence[str] | None, where: str = "report_to"
) -> tuple[str, ...]:
    """("tensorboard", ...) from "none", a name, or a list of names; `where` names the field in
    errors."""
    names = [value] if isinstance(value, str) else list(value or ())
    names = [n.strip().lower() for n in names]
    if names in (["none"], []):
        return ()
    unknown = [n for n in names if n not in TRACKERS]
    if unknown or "none" in names:
        raise ValueError(f"{where}: expected 'none' or any of {sorted(TRACKERS)}, got {value!r}")
    return tuple(dict.fromkeys(names))


def trl_report_to(names: Sequence[str]) -> list[str] | str:
    """The `report_to` a transformers/TRL config takes for these trackers."""
    return list(names) or "none"


class _TensorBoard:
    def __init__(self, run: RunRecord) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.dir / "tensorboard"))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class _MLflow:
    def __init__(self, run: RunRecord) -> None:
        import mlflow

        self.mlflow = mlflow
        mlflow.start_run(run_name=run.run_id, nested=mlflow.active_run() is not None)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.mlflow.log_metrics(dict(metrics), step=step)  # into the run started above

    def close(self) -> None:
        self.mlflow.end_run()


class _Trackio:
    def __init__(self, run: RunRecord) -> None:
        import trackio

        self.trackio = trackio
        self.handle = trackio.init(project="cetd-workbench", name=run.run_id)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.trackio.log(dict(metrics), step=step)

    def close(self) -> None:
        self.trackio.finish()


_OPENERS: dict[str, Any] = {"tensorboard": _TensorBoard, "mlflow": _MLflow, "trackio": _Trackio}


def open_trackers(run: RunRecord, report_to: str | Sequence[str] | None) -> list[Tracker]:
    """One open tracker per name; ImportError naming the package to install if one is missing."""
    trackers: list[Tracker] = []
    try:
        for name in normalise_report_to(report_to):
            module, requirement = TRACKERS[name]
            try:
                trackers.append(_OPENERS[name](run))
            except ImportError as exc:
                raise ImportError(
                    f"run.report_to includes {name!r}, but {module} does not import: "
                    f"pip install '{requirement}' (or leave {name!r} out of run.report_to)"
                ) from exc
    except BaseException:
        for tracker in trackers:
            tracker.close()
        raise
    return trackers
