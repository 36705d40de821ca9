"""Tables and figures of a calibration study (notebooks/calibration.ipynb).

Kept apart from `calibration` so the measurement and the statistics read without the
markdown and plotting code in the way: nothing here computes a number, it only shows them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cetd_lib.evaluation.calibration import CARRIES_CONTENT_SIGNAL, Calibration, FamilyRun


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def ladder_table(calibration: Calibration) -> str:
    ks = sorted(
        {k for s in calibration.rungs.values() for k in s.pass_at_k}, key=lambda k: int(k[5:])
    )
    lines = [
        "| rung | dose | pass rate | CI | apps | " + " | ".join(ks) + " |",
        "|---|---|---|---|---|" + "---|" * len(ks),
    ]
    for s in calibration.rungs.values():
        dose_text = _fmt(s.realised_dose, ".2f") if s.kind == "source" else "bound"
        lines.append(
            f"| {s.rung} | {dose_text} | {_fmt(s.mean)} | [{_fmt(s.ci_low, '.2f')}, "
            f"{_fmt(s.ci_high, '.2f')}] | {s.n_apps} | "
            + " | ".join(_fmt(s.pass_at_k.get(k)) for k in ks)
            + " |"
        )
    return "\n".join(lines)


def verdict_table(runs: Sequence[FamilyRun]) -> str:
    lines = [
        "| member | family | apps | gold − signature_only | CI | Holm p | gold − shuffled | CI | "
        "Holm p | apps for 5 pts (content) | monotone | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for member, c in run.calibrations.items():
            cells = []
            for sig in (c.signal, c.names_signal):
                d = sig.difference
                cells += [
                    f"{d.mean:+.3f}",
                    f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]",
                    _fmt(sig.p_holm, ".3g"),
                ]
            needed = c.signal.apps_needed
            lines.append(
                f"| {member} | {run.family} | {c.signal.n_apps} | {' | '.join(cells)} | "
                f"{needed if needed is not None else '—'} | {'yes' if c.monotone else 'no'} | "
                f"**{c.verdict}** |"
            )
    return "\n".join(lines)


def plot_dose_response(run: FamilyRun, ax: Any) -> Any:
    """Mean pass rate (paired bootstrap CI) against the realised dose, a line per member; the
    shuffled rung as a cross, no items as a square, signature_only as a triangle (its own
    dose), oracle/null as dashed lines."""
    markers = {"gold_shuffled": "x", "no_items": "s", "signature_only": "^"}
    for member, c in run.calibrations.items():
        ladder = [s for s in c.rungs.values() if s.kind == "source"]
        line = sorted(
            (s for s in ladder if s.rung not in markers), key=lambda s: s.realised_dose or 0
        )
        xs = [s.realised_dose for s in line]
        ys = [s.mean for s in line]
        err = [[s.mean - s.ci_low for s in line], [s.ci_high - s.mean for s in line]]
        handle = ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=member)
        for s in ladder:
            if s.rung in markers:
                ax.errorbar(
                    [s.realised_dose], [s.mean], yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]],
                    marker=markers[s.rung], color=handle[0].get_color(), capsize=3, linestyle="",
                )  # fmt: skip
    first = next(iter(run.calibrations.values()))
    for name, style in (("oracle_backend", "--"), ("null_backend", ":")):
        if name in first.rungs:
            ax.axhline(first.rungs[name].mean, color="grey", linestyle=style, label=name)
    ax.set_xlabel("share of own gold items given (× shuffled, ■ no items, ▲ signature only)")
    ax.set_ylabel("pass rate (paired bootstrap CI)")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{run.family}: {len(first.app_ids)} apps")
    ax.legend(fontsize=7)
    return ax


def plot_signal(runs: Sequence[FamilyRun], ax: Any) -> Any:
    """gold − signature_only per (member, family) with its CI (what the content adds); ±effect
    size as dotted lines; the label says how many apps a 5-point difference needs."""
    rows = [(m, run.family, c) for run in runs for m, c in run.calibrations.items()]
    for y, (_member, _family, c) in enumerate(rows):
        d = c.signal.difference
        color = "tab:green" if c.verdict == CARRIES_CONTENT_SIGNAL else "tab:red"
        ax.errorbar([d.mean], [y], xerr=[[d.mean - d.ci_low], [d.ci_high - d.mean]],
                    marker="o", color=color, capsize=4)  # fmt: skip
        needed = c.signal.apps_needed
        ax.annotate(
            f"n={c.signal.n_apps}, needs {needed if needed is not None else '—'}",
            (d.ci_high, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=7,
        )  # fmt: skip
    if rows:
        es = rows[0][2].signal.effect_size
        for x in (-es, es):
            ax.axvline(x, color="grey", linestyle=":")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [f"{m} / {f}" for m, f, _ in rows])
    ax.set_xlabel(
        "gold − signature_only pass rate (paired bootstrap CI); green: carries content signal"
    )
    ax.set_xlim(-1.05, 1.3)
    return ax


def likelihood_table(runs: Sequence[FamilyRun]) -> str:
    """Markdown: per member, family and source rung, the likelihood gain over signature_only
    (CI) and its per-app Spearman rho with the pass-rate gain; then the verdict."""
    lines = [
        "| member | family | rung | likelihood gain | CI | Spearman rho vs pass-rate gain | p |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for run in runs:
        for member, lc in run.likelihood.items():
            for r in lc.rungs.values():
                lines.append(
                    f"| {member} | {run.family} | {r.rung} | {r.mean_gain:+.3f} | "
                    f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {_fmt(r.spearman, '+.2f')} | "
                    f"{_fmt(r.spearman_p, '.3g')} |"
                )
            verdicts.append(f"- {member} / {run.family}: **{lc.verdict}** ({lc.reason})")
    return "\n".join(lines + [""] + verdicts)
