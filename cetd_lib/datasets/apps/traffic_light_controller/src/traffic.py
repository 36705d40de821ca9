"""Fixed-time controller for a two-way (north-south / east-west) junction.

The controller cycles through six phases. Time is counted in whole seconds
and advanced explicitly with ``tick`` so the controller is easy to test.
"""
from __future__ import annotations

from enum import Enum


class Signal(Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


# phase name -> (north-south signal, east-west signal)
PHASES: tuple[tuple[str, Signal, Signal], ...] = (
    ("NS_GREEN", Signal.GREEN, Signal.RED),
    ("NS_YELLOW", Signal.YELLOW, Signal.RED),
    ("ALL_RED_TO_EW", Signal.RED, Signal.RED),
    ("EW_GREEN", Signal.RED, Signal.GREEN),
    ("EW_YELLOW", Signal.RED, Signal.YELLOW),
    ("ALL_RED_TO_NS", Signal.RED, Signal.RED),
)


class Controller:
    def __init__(
        self,
        ns_green: int = 30,
        ew_green: int = 20,
        yellow: int = 4,
        all_red: int = 2,
        walk_cutoff: int = 5,
    ) -> None:
        for label, value in (
            ("ns_green", ns_green),
            ("ew_green", ew_green),
            ("yellow", yellow),
            ("all_red", all_red),
            ("walk_cutoff", walk_cutoff),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer")
        self._durations = (ns_green, yellow, all_red, ew_green, yellow, all_red)
        self.walk_cutoff = walk_cutoff
        self._index = 0
        self.remaining = self._durations[0]
        self.elapsed = 0

    @property
    def phase(self) -> str:
        return PHASES[self._index][0]

    @property
    def cycle_length(self) -> int:
        return sum(self._durations)

    def signals(self) -> dict[str, Signal]:
        _, ns, ew = PHASES[self._index]
        return {"NS": ns, "EW": ew}

    def _advance(self) -> None:
        self._index = (self._index + 1) % len(PHASES)
        self.remaining = self._durations[self._index]

    def tick(self, seconds: int = 1) -> list[str]:
        """Advance the clock; return the names of phases entered, in order."""
        if seconds < 0:
            raise ValueError("cannot tick backwards")
        entered: list[str] = []
        for _ in range(seconds):
            self.elapsed += 1
            self.remaining -= 1
            if self.remaining == 0:
                self._advance()
                entered.append(self.phase)
        return entered

    def request_walk(self) -> bool:
        """Pedestrian push-button: cut a long green short.

        Only has an effect during a green phase with more than
        ``walk_cutoff`` seconds left; returns whether the phase was shortened.
        """
        if self.phase.endswith("GREEN") and self.remaining > self.walk_cutoff:
            self.remaining = self.walk_cutoff
            return True
        return False


def timeline(controller: Controller, seconds: int) -> list[tuple[int, str]]:
    """Run ``controller`` for ``seconds`` and list (offset, phase) at each change.

    The first entry is always ``(0, <current phase>)``; offsets are relative to
    the moment the function was called.
    """
    events = [(0, controller.phase)]
    for offset in range(1, seconds + 1):
        for name in controller.tick():
            events.append((offset, name))
    return events


def describe(controller: Controller) -> str:
    sig = controller.signals()
    return f"{controller.phase} NS={sig['NS'].value} EW={sig['EW'].value} ({controller.remaining}s left)"
