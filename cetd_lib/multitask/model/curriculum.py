"""The seed's curriculum as a small state machine fed one metrics dict per epoch.

    code -> simple_ontology -> multi_hop_ontology -> joint

Each of the first three phases ends when its gate is met, or after its max epochs ("gate
missed"); the joint phase ends on a val-loss plateau (`patience` epochs without improvement)
or its max epochs. Every transition is an event the trainer writes to the run record.
`TaskReweighter` is the joint phase's "re-weight a task whose val metric degrades".
No torch here: the trainer feeds numbers, tests feed a fake metric stream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PHASES = ("code", "simple_ontology", "multi_hop_ontology", "joint")

#: Tasks trained in each phase; the joint phase trains all of them (model.TASKS).
PHASE_TASKS = {
    "code": ("code",),
    "simple_ontology": ("code", "ontology"),
    "multi_hop_ontology": ("code", "ontology"),
    "joint": (
        "code",
        "ontology",
        "test",
        "clarify_question",
        "explain",
        "quality",
        "security",
        "clarification",
    ),
}


@dataclass(frozen=True)
class Gate:
    """A phase ends early when `metric` compares to `threshold` as `direction` says."""

    metric: str
    threshold: float
    direction: str  # "below" | "above"

    def met(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        return value < self.threshold if self.direction == "below" else value > self.threshold

    def describe(self) -> str:
        return f"{self.metric} {'<' if self.direction == 'below' else '>'} {self.threshold:g}"


def seed_gates(config: Any) -> dict[str, Gate]:
    """The seed's gates from a MultitaskTrainConfig."""
    return {
        "code": Gate("val/code_loss", config.code_val_loss_gate, "below"),
        "simple_ontology": Gate(
            "val/ontology_utilization", config.ontology_utilization_gate, "above"
        ),
        "multi_hop_ontology": Gate("val/pass_at_1_gain", config.multi_hop_pass_gain_gate, "above"),
    }


@dataclass
class Curriculum:
    """Which phase we are in; `observe(metrics)` after every epoch returns the events."""

    max_epochs: Mapping[str, int]
    gates: Mapping[str, Gate]
    patience: int = 5
    min_delta: float = 0.0
    plateau_metric: str = "val/loss"
    phase_index: int = 0
    epoch_in_phase: int = 0
    epoch: int = 0
    done: bool = False
    best: float = math.inf
    best_epoch: int | None = None
    since_best: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        missing = [p for p in PHASES if p not in self.max_epochs]
        if missing:
            raise ValueError(f"curriculum: max_epochs has no value for phases {missing}")

    @property
    def phase(self) -> str:
        return PHASES[self.phase_index]

    @property
    def tasks(self) -> tuple[str, ...]:
        return PHASE_TASKS[self.phase]

    def observe(self, metrics: Mapping[str, float]) -> list[dict[str, Any]]:
        """Record one finished epoch of the current phase; advance or stop as the gates say.
        Returns the new events (also appended to `self.events`). `is_best` in the joint phase
        tells the trainer to keep this epoch's checkpoint."""
        if self.done:
            raise RuntimeError("curriculum already finished; no more epochs to observe")
        self.epoch += 1
        self.epoch_in_phase += 1
        phase, new = self.phase, []
        if phase == "joint":
            value = metrics.get(self.plateau_metric)
            if value is None:
                raise KeyError(f"curriculum: joint phase needs {self.plateau_metric!r} each epoch")
            improved = value < self.best - self.min_delta
            if improved:
                self.best, self.best_epoch, self.since_best = value, self.epoch, 0
            else:
                self.since_best += 1
            new.append(self._event("epoch", is_best=improved, value=value))
            if self.since_best >= self.patience:
                new.append(self._event("plateau", value=value, patience=self.patience))
                self.done = True
            elif self.epoch_in_phase >= self.max_epochs[phase]:
                new.append(self._event("max epochs", value=value))
                self.done = True
        else:
            gate = self.gates.get(phase)
            value = metrics.get(gate.metric) if gate else None
            if gate is not None and gate.met(value):
                new.append(self._event("gate met", gate=gate.describe(), value=value))
                self._advance()
            elif self.epoch_in_phase >= self.max_epochs[phase]:
                kind = "gate missed" if gate is not None else "max epochs"
                new.append(self._event(kind, gate=gate and gate.describe(), value=value))
                self._advance()
        for event in new:
            if event.get("next_phase") is None and event["event"] in ("gate met", "gate missed"):
                event["next_phase"] = self.phase
        self.events += new
        return new

    def _advance(self) -> None:
        self.phase_index += 1
        self.epoch_in_phase = 0

    def _event(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "event": kind,
            "phase": self.phase,
            "epoch": self.epoch,
            "epoch_in_phase": self.epoch_in_phase,
            **extra,
        }


@dataclass
class TaskReweighter:
    """Multiplies a task's loss weight by `boost` each epoch its val metric degrades (a val
    loss that rises, or a score that falls), capped at `max_boost`."""

    boost: float = 1.5
    max_boost: float = 4.0
    weights: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def update(self, values: Mapping[str, float], lower_is_better: bool = True) -> list[str]:
        """Feed this epoch's per-task val values; returns the tasks re-weighted now."""
        changed = []
        for task, value in values.items():
            if value is None or math.isnan(value):
                continue
            previous = self.last.get(task)
            worse = previous is not None and (
                value > previous if lower_is_better else value < previous
            )
            if worse:
                self.weights[task] = min(self.weights.get(task, 1.0) * self.boost, self.max_boost)
                changed.append(task)
            self.last[task] = value
        return changed
