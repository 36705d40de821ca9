"""Summary of a review: win rates, rubric means, left-side bias, self-consistency, agreement.

Only submitted ratings count. Win rates and rubric means use first showings (the repeats exist
for self-consistency); the left-bias test uses every submitted rating. Ratings from several
raters on one item are pooled as if independent: the intervals are optimistic then.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cetd_lib.review.kinds import REQUIREMENTS, ReviewKind, review_kind
from cetd_lib.review.stats import (
    binomial_test,
    krippendorff_alpha,
    weighted_kappa,
    wilson_interval,
)
from cetd_lib.review.store import CRITERIA, Rating


@dataclass(frozen=True)
class ReviewSummary:
    sources: tuple[str, str]
    n_submitted: int
    n_raters: int
    win_rates: dict[str, dict[str, Any]]  # source -> wins, losses, ties, win_rate, ci
    mean_scores: dict[str, dict[str, float]]  # source -> criterion -> mean 1-5
    left_bias: dict[str, Any]  # left picks among decided, share, two-sided binomial p
    self_consistency: dict[str, Any]  # repeated items: same preference share, |score diff|
    agreement: dict[str, Any]  # >= 2 raters: quadratic kappa per rater pair, alpha
    kind: str = REQUIREMENTS.name  # whose rubric the scores follow
    criteria: tuple[str, ...] = CRITERIA

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    def to_markdown(self) -> str:
        a, b = self.sources
        lines = [
            f"{self.n_submitted} submitted ratings from {self.n_raters} rater(s).",
            "",
            "| source | wins | losses | ties | win rate (no ties) | 95% Wilson CI |"
            + "".join(f" {c} |" for c in self.criteria),
            "|---|---|---|---|---|---|" + "---|" * len(self.criteria),
        ]
        for source in (a, b):
            w = self.win_rates[source]
            means = "".join(f" {_fmt(self.mean_scores[source].get(c))} |" for c in self.criteria)
            lines.append(
                f"| {source} | {w['wins']} | {w['losses']} | {w['ties']} | "
                f"{_fmt(w['win_rate'])} | [{_fmt(w['ci_low'])}, {_fmt(w['ci_high'])}] |{means}"
            )
        bias = self.left_bias
        lines += [
            "",
            f"Left-side bias: left chosen {bias['left']} of {bias['decided']} decided "
            f"({_fmt(bias['share_left'])}), two-sided binomial p = {_fmt(bias['p_value'])}.",
        ]
        sc = self.self_consistency
        lines.append(
            f"Self-consistency: {sc['pairs']} repeated pair(s); same preference "
            f"{_fmt(sc['preference_agreement'])}, mean |score difference| "
            f"{_fmt(sc['mean_abs_score_diff'])}."
        )
        ag = self.agreement
        if ag.get("units", 0):
            lines.append(
                f"Inter-rater ({len(ag['raters'])} raters, {ag['units']} shared items): "
                + ", ".join(
                    f"{k}: kappa_w {_fmt(ag['kappa'].get(k))}, alpha {_fmt(ag['alpha'].get(k))}"
                    for k in ag["alpha"]
                )
                + "."
            )
        else:
            lines.append("Inter-rater agreement: needs at least two raters on shared items.")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _clean(value: Any) -> Any:
    """NaN -> None (NaN is not JSON)."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _preference_code(rating: Rating, sources: tuple[str, str]) -> int:
    """Ordinal preference in source terms: -1 first source better, 0 tie, +1 second better."""
    preferred = rating.preferred_source
    return 0 if preferred == "tie" else (-1 if preferred == sources[0] else 1)


def summarize(
    ratings: Sequence[Rating],
    sources: Sequence[str],
    *,
    kind: str | ReviewKind = REQUIREMENTS,
) -> ReviewSummary:
    """Every figure of the review from the stored ratings (any sessions comparing `sources`),
    on the rubric of `kind`; ratings of another kind are refused, not mixed in."""
    kind = review_kind(kind)
    criteria = kind.criteria
    other = sorted({r.kind for r in ratings if r.kind != kind.name})
    if other:
        raise ValueError(
            f"summarize(kind={kind.name!r}) got ratings of {other} sessions; summarise each "
            "kind on its own (pass kind=session.kind)"
        )
    a, b = sources
    submitted = [r for r in ratings if r.status == "submitted"]
    firsts = [r for r in submitted if r.repeat_of is None]

    win_rates = {}
    for source, other in ((a, b), (b, a)):
        wins = sum(r.preferred_source == source for r in firsts)
        losses = sum(r.preferred_source == other for r in firsts)
        ties = sum(r.preferred_source == "tie" for r in firsts)
        low, high = wilson_interval(wins, wins + losses)
        win_rates[source] = {
            "wins": wins,
            "losses": losses,
            "ties": ties,
            "win_rate": wins / (wins + losses) if wins + losses else float("nan"),
            "ci_low": low,
            "ci_high": high,
        }

    mean_scores = {}
    for source in (a, b):
        mean_scores[source] = {}
        for criterion in criteria:
            values = [r.scores_by_source()[source][criterion] for r in firsts]
            mean_scores[source][criterion] = float(np.mean(values)) if values else float("nan")

    decided = [r for r in submitted if r.preference in ("left", "right")]
    left = sum(r.preference == "left" for r in decided)
    left_bias = {
        "left": left,
        "decided": len(decided),
        "share_left": left / len(decided) if decided else float("nan"),
        "p_value": binomial_test(left, len(decided)),
    }

    return ReviewSummary(
        sources=(a, b),
        n_submitted=len(submitted),
        n_raters=len({r.rater_id for r in submitted}),
        win_rates=win_rates,
        mean_scores=mean_scores,
        left_bias=left_bias,
        self_consistency=_self_consistency(submitted, (a, b), criteria),
        agreement=_agreement(firsts, (a, b), criteria),
        kind=kind.name,
        criteria=criteria,
    )


def _self_consistency(
    submitted: list[Rating], sources: tuple[str, str], criteria: tuple[str, ...]
) -> dict[str, Any]:
    """Each rater's repeat vs their first showing, in source terms (sides were re-drawn)."""
    by_key = {(r.session_id, r.rater_id, r.item_id): r for r in submitted}
    same, diffs = [], []
    for r in submitted:
        first = by_key.get((r.session_id, r.rater_id, r.repeat_of)) if r.repeat_of else None
        if first is None:
            continue
        same.append(_preference_code(r, sources) == _preference_code(first, sources))
        s1, s2 = first.scores_by_source(), r.scores_by_source()
        diffs += [abs(s1[s][c] - s2[s][c]) for s in sources for c in criteria]
    return {
        "pairs": len(same),
        "preference_agreement": float(np.mean(same)) if same else float("nan"),
        "mean_abs_score_diff": float(np.mean(diffs)) if diffs else float("nan"),
    }


def _agreement(
    firsts: list[Rating], sources: tuple[str, str], criteria: tuple[str, ...]
) -> dict[str, Any]:
    """Quadratic-weighted Cohen's kappa averaged over rater pairs and Krippendorff's ordinal
    alpha over all raters, for the preference (-1/0/+1) and for each rubric criterion
    (a unit is one item and one source)."""
    raters = sorted({r.rater_id for r in firsts})
    units = sorted({(r.session_id, r.item_id) for r in firsts})
    rated = {((r.session_id, r.item_id), r.rater_id) for r in firsts}
    shared = [u for u in units if sum((u, x) in rated for x in raters) >= 2]
    if len(raters) < 2 or not shared:
        return {"raters": raters, "units": 0, "kappa": {}, "alpha": {}, "pairs": {}}
    by = {(r.session_id, r.item_id, r.rater_id): r for r in firsts}

    def values(measure: str) -> tuple[list[tuple[Any, ...]], list[int]]:
        """Unit keys and the measure's categories."""
        if measure == "preference":
            return list(shared), [-1, 0, 1]
        return [(*u, s) for u in shared for s in sources], [1, 2, 3, 4, 5]

    def value(unit: tuple[Any, ...], rater: str, measure: str) -> int | None:
        rating = by.get((unit[0], unit[1], rater))
        if rating is None:
            return None
        if measure == "preference":
            return _preference_code(rating, sources)
        return rating.scores_by_source()[unit[2]][measure]

    kappa, alpha, pairs = {}, {}, {}
    for measure in ("preference", *criteria):
        unit_keys, categories = values(measure)
        table = [[value(u, rater, measure) for u in unit_keys] for rater in raters]
        alpha[measure] = krippendorff_alpha(table, level="ordinal")
        pair_kappas = {}
        for (i, ri), (j, rj) in itertools.combinations(enumerate(raters), 2):
            both = [(x, y) for x, y in zip(table[i], table[j], strict=True) if None not in (x, y)]
            if both:
                xs, ys = zip(*both, strict=True)
                pair_kappas[f"{ri}|{rj}"] = weighted_kappa(xs, ys, categories)
        finite = [k for k in pair_kappas.values() if not np.isnan(k)]
        kappa[measure] = float(np.mean(finite)) if finite else float("nan")
        pairs[measure] = pair_kappas
    return {"raters": raters, "units": len(shared), "kappa": kappa, "alpha": alpha, "pairs": pairs}


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def columns(sources: Sequence[str], criteria: Sequence[str] = CRITERIA) -> list[str]:
    """The export's columns: ids, the side map, the preference, scores by source, times."""
    return [
        "session_id",
        "rater_id",
        "item_id",
        "app_id",
        "repeat_of",
        "status",
        "left_source",
        "right_source",
        "preference_side",
        "preferred_source",
        *(f"{s}_{c}" for s in sources for c in criteria),
        "rationale",
        "created_at",
        "updated_at",
        "submitted_at",
        "schema_version",
    ]


def rating_rows(
    ratings: Sequence[Rating], sources: Sequence[str], criteria: Sequence[str] = CRITERIA
) -> list[dict[str, Any]]:
    """One flat row per rating, unblinded (source-named scores), for CSV and JSON."""
    rows = []
    for r in ratings:
        by_source = r.scores_by_source()
        row = {
            "session_id": r.session_id,
            "rater_id": r.rater_id,
            "item_id": r.item_id,
            "app_id": r.app_id,
            "repeat_of": r.repeat_of or "",
            "status": r.status,
            "left_source": r.left_source,
            "right_source": r.right_source,
            "preference_side": r.preference or "",
            "preferred_source": r.preferred_source or "",
        }
        for source in sources:
            for criterion in criteria:
                row[f"{source}_{criterion}"] = by_source.get(source, {}).get(criterion, "")
        row.update(
            rationale=r.rationale,
            created_at=r.created_at,
            updated_at=r.updated_at,
            submitted_at=r.submitted_at or "",
            schema_version=r.schema_version,
        )
        rows.append(row)
    return rows


def export(
    ratings: Sequence[Rating],
    summary: ReviewSummary,
    folder: str | Path,
    prefix: str = "review",
) -> dict[str, Path]:
    """Write `<prefix>-ratings.csv`, `<prefix>-ratings.json` and `<prefix>-summary.json`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = rating_rows(ratings, summary.sources, summary.criteria)
    paths = {
        "csv": folder / f"{prefix}-ratings.csv",
        "json": folder / f"{prefix}-ratings.json",
        "summary": folder / f"{prefix}-summary.json",
    }
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns(summary.sources, summary.criteria))
        writer.writeheader()
        writer.writerows(rows)
    paths["json"].write_text(json.dumps(rows, indent=2) + "\n")
    paths["summary"].write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return paths
