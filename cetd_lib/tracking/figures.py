"""Matplotlib figures of runs (curves, bars with CIs, failure classes) and their PNG/HTML.

Used by the live notebook display and by the dashboard; knows nothing about HTML pages.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cetd_lib.tracking.series import grouped

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


MAX_PANELS = 24  # a run logging hundreds of keys still gives a readable page


def _figure(n_panels: int, *, cols: int = 3, width: float | None = None, height: float = 2.6):
    from matplotlib.figure import Figure

    cols = max(1, min(cols, n_panels))
    rows = max(1, math.ceil(n_panels / cols))
    width = width if width is not None else min(11.5, 3.7 * cols)  # one panel stays small
    fig = Figure(figsize=(width, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes[:n_panels])


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def lines_figure(
    panels: Mapping[str, Mapping[str, tuple[Sequence[int], Sequence[float]]]], title: str = ""
) -> Any:
    """panel title -> {line label: (steps, values)}: one small line plot per panel."""
    names = list(panels)[:MAX_PANELS]
    fig, axes = _figure(len(names) or 1)
    for ax, name in zip(axes, names, strict=False):
        for i, (label, (steps, values)) in enumerate(panels[name].items()):
            ax.plot(
                steps,
                values,
                marker="o" if len(steps) < 12 else None,
                ms=3,
                lw=1.4,
                color=PALETTE[i % len(PALETTE)],
                label=label,
            )
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", useOffset=False)  # "+1.08e1" offsets hide the values
        ax.set_xlabel("step", fontsize=7)
        ax.grid(alpha=0.3)
        if len(panels[name]) > 1:
            ax.legend(fontsize=6)
    if not names:
        axes[0].text(0.5, 0.5, "no metrics logged yet", ha="center", va="center")
        axes[0].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def metrics_figure(
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    keys: Iterable[str] | None = None,
    *,
    per: Literal["group", "key"] = "group",
    title: str = "",
) -> Any:
    """Line plots of metric series: one panel per group (a line per key) or one per key."""
    keys = sorted(keys if keys is not None else series)
    if per == "group":
        panels = {
            group: {k.removeprefix(f"{group}/"): series[k] for k in members}
            for group, members in grouped(keys).items()
        }
    else:
        panels = {k: {k: series[k]} for k in keys}
    return lines_figure(panels, title)


def pass_rate_figure(pass_rates: Mapping[str, Sequence[float]]) -> Any:
    """Histogram of per-app pass rates, one panel per source."""
    fig, axes = _figure(len(pass_rates), cols=4, height=2.2)
    for i, (ax, (source, values)) in enumerate(zip(axes, pass_rates.items(), strict=True)):
        ax.hist(values, bins=10, range=(0, 1), color=PALETTE[i % len(PALETTE)], alpha=0.8)
        ax.set_title(f"{source} (n={len(values)})", fontsize=9)
        ax.set_xlabel("pass rate", fontsize=7)
        ax.set_ylabel("apps", fontsize=7)
        ax.tick_params(labelsize=7)
    return fig


def bars_with_ci_figure(rows: Sequence[SourceBar], title: str) -> Any:
    """Mean pass rate per source with its confidence interval as error bars."""
    fig, (ax,) = _figure(1, cols=1, width=max(4.0, 1.1 * len(rows) + 2), height=2.8)
    names = [r.source for r in rows]
    means = [r.pass_rate for r in rows]
    low = [max(0.0, r.pass_rate - r.low) if r.low is not None else 0.0 for r in rows]
    high = [max(0.0, r.high - r.pass_rate) if r.high is not None else 0.0 for r in rows]
    bars = ax.bar(names, means, yerr=[low, high], capsize=4, color=PALETTE[: len(rows)] or None)
    ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)  # a 0.00 bar is otherwise invisible
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pass rate", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    return fig


def failure_figure(failures: Mapping[str, Mapping[str, int]]) -> Any:
    """Failed tests per failure class, one horizontal bar group per source."""
    classes = sorted({c for counts in failures.values() for c in counts})
    fig, (ax,) = _figure(1, cols=1, width=8, height=0.35 * len(classes) * len(failures) + 1.2)
    height = 0.8 / max(1, len(failures))
    for i, (source, counts) in enumerate(failures.items()):
        ys = [j + i * height for j in range(len(classes))]
        ax.barh(
            ys,
            [counts.get(c, 0) for c in classes],
            height=height,
            label=source,
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(classes))], classes, fontsize=7)
    ax.set_xlabel("failed tests", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    return fig


def runs_bar_figure(values: Mapping[str, Mapping[str, float]]) -> Any:
    """key -> {run_id: value}: one panel per summary key, one bar per run (in start order)."""
    fig, axes = _figure(len(values), cols=3, height=2.6)
    for ax, (key, per_run) in zip(axes, values.items(), strict=True):
        labels = [_short(r) for r in per_run]
        values = list(per_run.values())
        bars = ax.bar(labels, values, color=PALETTE[0])
        ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)  # zeros are bars of no height
        if min(values) >= 0:
            ax.set_ylim(0, 1.15 * max(values) if max(values) > 0 else 1.0)
        ax.set_title(key, fontsize=9)
        ax.tick_params(axis="x", labelsize=6, rotation=30)
        ax.tick_params(axis="y", labelsize=7)
    return fig


def _short(run_id: str) -> str:
    return run_id if len(run_id) <= 22 else "…" + run_id[-20:]


@dataclass(frozen=True)
class SourceBar:
    source: str
    pass_rate: float
    low: float | None = None
    high: float | None = None
