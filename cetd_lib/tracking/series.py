"""Metric series of a run: keys, phases and panels, read back from metrics.jsonl rows.

Shared by the live display (`live`), the figures and the dashboard, so none imports another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def split_phase(key: str) -> tuple[str, str]:
    """(phase, grouped key): `stage1/losses/train` -> ("stage1", "losses/train").

    A key has a phase when it has at least three parts and its first part is not a known group
    (`rewards/recon/mean` and `guard/rule/empty` have none); "" when it has none.

    >>> split_phase("stage2/rewards/mean"), split_phase("rewards/recon/mean")
    (('stage2', 'rewards/mean'), ('', 'rewards/recon/mean'))
    """
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] not in KNOWN_GROUPS:
        return parts[0], "/".join(parts[1:])
    return "", key


def metric_group(key: str) -> str:
    """The group of a key, phase left out: `rewards/recon/mean` and `stage2/rewards/mean` ->
    `rewards`; "other" for a key without a group."""
    rest = split_phase(key)[1]
    return rest.split("/", 1)[0] if "/" in rest else "other"


def metric_panel(key: str) -> str:
    """The panel a key is drawn in: `<phase>/<group>` (`stage1/losses`), or `<group>`."""
    phase = split_phase(key)[0]
    return f"{phase}/{metric_group(key)}" if phase else metric_group(key)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_number(value: Any) -> float | None:
    """float for numbers, numpy scalars and one-element arrays/tensors; None for anything else."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    if hasattr(value, "item") and hasattr(value, "shape"):
        size = value.numel() if hasattr(value, "numel") else getattr(value, "size", None)
        if size == 1:
            return float(value.item())
    return None


def nanmean(values: Iterable[Any]) -> float:
    """Mean of the values that are numbers, NaN and None left out; NaN when none is left."""
    kept = [v for v in (as_number(x) for x in values) if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float("nan")


def nanstd(values: Iterable[Any]) -> float:
    """Population standard deviation (ddof=0, as TRL logs `reward_std`), NaN/None left out."""
    kept = [v for v in (as_number(x) for x in values) if v is not None and not math.isnan(v)]
    if not kept:
        return float("nan")
    mean = sum(kept) / len(kept)
    return math.sqrt(sum((v - mean) ** 2 for v in kept) / len(kept))


def metric_series(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """key -> (steps, values) over metrics.jsonl rows; non-numeric, None and NaN values skipped."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        step = row.get("step")
        for key, value in row.items():
            if key in ("step", "time") or isinstance(value, str):
                continue
            number = as_number(value)
            if number is None or math.isnan(number) or step is None:
                continue
            steps, values = series.setdefault(key, ([], []))
            steps.append(int(step))
            values.append(number)
    return series


def last_values(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The last finite value logged for every numeric key."""
    return {key: values[-1] for key, (_, values) in metric_series(rows).items()}


def grouped(keys: Iterable[str]) -> dict[str, list[str]]:
    """panel (`metric_panel`) -> sorted keys: keys without a phase first, then phases in
    alphabetical order (stage1 before stage2); within each, groups in GROUP_ORDER, then the rest
    alphabetically."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(metric_panel(key), []).append(key)
    rank = {name: i for i, name in enumerate(GROUP_ORDER)}

    def order(panel: str) -> tuple[str, int, str]:
        phase, _, group = panel.rpartition("/")
        return (phase, rank.get(group, len(rank)), group)

    return {g: groups[g] for g in sorted(groups, key=order)}


# Panels are drawn in this order; any other prefix follows alphabetically.
GROUP_ORDER = ("losses", "rewards", "completions", "eval", "charts")


# Groups that are never a phase name: a key `guard/rule/empty` is group `guard`, not phase `guard`.
KNOWN_GROUPS = (*GROUP_ORDER, "guard", "kill_rate", "advantages", "clip_ratio", "sampling")
