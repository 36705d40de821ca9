"""Small HTML pieces shared by the live notebook view and the dashboard page."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cetd_lib.tracking.series import grouped


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Cells are HTML already (callers escape)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def latest_table_html(latest: Mapping[str, float], step: int | None) -> str:
    """The live view's table: latest value per key, grouped by prefix."""
    rows = [
        [esc(group), esc(key), fmt(latest[key])]
        for group, keys in grouped(latest).items()
        for key in keys
    ]
    return (
        f"<div class='cetd-dashboard'><b>step {step}</b>"
        + table(["group", "metric", "latest"], rows)
        + "</div>"
    )
