"""Which apps stage 2 trains on: those where the calibration shows the content pays.

    selection = select_content_apps(results, train_apps, run_id="calibration-...")
    selection.apps, selection.dropped, selection.to_dict()   # the latter goes into the run

RLOO and GRPO learn from differences inside an app's group of samples. On an app where the
orchestra rebuilds from the signature alone as well as from gold (or fails both), a better list
cannot earn more: every group there has zero task-reward spread and the step is spent on the KL
term (issue 29: 11 of 12 groups of study v1). The calibration's `per_app` table
(docs/calibration.md) has, per app and member, the pass rate from gold and from
`signature_only`; an app is kept when gold - signature_only, averaged over the members that
scored both, is > 0.

This reads the calibration's results.json as data (train and evaluation are separate layers);
it decides per app on point values, so it is a filter for where signal can exist, not a test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cetd_lib.apps.app import App

SELECTION_RULE = "gold - signature_only > 0 (per-app pass rate, mean over members)"


@dataclass(frozen=True)
class AppSelection:
    """The stage-2 apps kept, and why each other candidate was dropped."""

    apps: tuple[App, ...]
    dropped: dict[str, str] = field(default_factory=dict)  # app_id -> reason
    gains: dict[str, float] = field(default_factory=dict)  # app_id -> gold - signature_only
    calibration_run_id: str = ""
    rule: str = SELECTION_RULE

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "calibration_run_id": self.calibration_run_id,
            "selected": [a.app_id for a in self.apps],
            "dropped": dict(self.dropped),
            "gains": dict(self.gains),
        }


def _per_app(results: Mapping[str, Any], rung: str) -> dict[str, dict[str, float]]:
    """app_id -> member -> pass rate of `rung`, over every family of the calibration."""
    out: dict[str, dict[str, float]] = {}
    for rungs in results.get("per_app", {}).values():
        if rung not in rungs:
            continue
        for member, by_app in rungs[rung].items():
            for app_id, value in by_app.items():
                if value is not None and not math.isnan(value):
                    out.setdefault(app_id, {})[member] = float(value)
    return out


def select_content_apps(
    results: Mapping[str, Any], candidates: Sequence[App], *, run_id: str = ""
) -> AppSelection:
    """The `candidates` whose calibration gain gold - signature_only is > 0 (SELECTION_RULE).

    Raises when the calibration has no `signature_only` rung (a run from before issue 29) or
    when no candidate is kept, saying which run and what to do.
    """
    gold, control = _per_app(results, "gold"), _per_app(results, "signature_only")
    where = f"calibration run {run_id!r}" if run_id else "the calibration results"
    if not control:
        raise ValueError(
            f"{where} has no signature_only rung: re-run notebooks/calibration.ipynb with it "
            "(the default rungs include it), or set stage2.app_selection: all"
        )
    kept, dropped, gains = [], {}, {}
    for app in candidates:
        members = sorted(set(gold.get(app.app_id, {})) & set(control.get(app.app_id, {})))
        if not members:
            dropped[app.app_id] = "not measured under gold and signature_only"
            continue
        gain = sum(gold[app.app_id][m] - control[app.app_id][m] for m in members) / len(members)
        gains[app.app_id] = gain
        if gain > 0:
            kept.append(app)
        else:
            dropped[app.app_id] = f"gold - signature_only = {gain:+.3f}: no content to learn"
    if not kept:
        raise ValueError(
            f"stage2.app_selection: calibrated keeps none of the {len(candidates)} training "
            f"apps ({where}; {sum('not measured' in r for r in dropped.values())} not measured "
            "there): calibrate on the training apps, or set stage2.app_selection: all"
        )
    return AppSelection(tuple(kept), dropped, gains, run_id)


def load_calibration_results(outputs_dir: str | Path, run_id: str) -> dict[str, Any]:
    """`<outputs_dir>/runs/<run_id>/results.json` of a calibration run."""
    path = Path(outputs_dir) / "runs" / run_id / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"stage2.calibration_run_id={run_id!r}: {path} does not exist; run "
            "`python -m cetd_lib run notebooks/calibration.ipynb` first and give its run id"
        )
    return json.loads(path.read_text())
