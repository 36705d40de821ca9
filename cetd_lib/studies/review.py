"""Blind human review (docs/review.md): two sources side by side, rated on a rubric; the summary
of the ratings stored so far (win rates with Wilson CIs, mean scores, left-side bias,
self-consistency, agreement) and, for explanations, the seed target.

`start(session)` opens the review (what the notebook's form rates); `run(session, opened)`
summarises what is stored, writes results.json, summary and report, and completes the run.
Headless nothing waits for input: the summary covers the ratings stored so far.

The shared table has one row set, `rated` (the apps or findings of the review's items), and a
source per side with its win rate (ties left out, Wilson CI) and its mean score per criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cetd_lib import review
from cetd_lib.review import ReviewMaterial, ReviewSession, ReviewSummary
from cetd_lib.session import Session
from cetd_lib.studies import common
from cetd_lib.tracking.results import Estimate, ResultsTable, SourceRow

ROW_SET = "rated"


@dataclass(frozen=True)
class OpenedReview:
    """The material and the rating session `start` opened."""

    material: ReviewMaterial
    session: ReviewSession


@dataclass(frozen=True)
class ReviewResults:
    title: ClassVar[str] = "Human review"
    table: ResultsTable
    review_summary: ReviewSummary
    verdict: dict[str, Any] | None  # the seed target (explanations), None for requirements
    session_id: str
    kind: str
    origin: str
    note: str
    files: dict[str, Path]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.table.to_dict(),
            "review": self.review_summary.to_dict(),
            "verdict": self.verdict,
            **{k: v for k, v in self.summary().items() if k in ("session_id", "origin", "note")},
        }

    def summary(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "origin": self.origin,
            "note": self.note,
            **self.review_summary.to_dict(),
            **({f"{self.kind}_rating": self.verdict} if self.verdict else {}),
        }

    def report_sections(self) -> dict[str, str]:
        return {
            "Material": self.note,
            "Ratings stored so far": self.review_summary.to_markdown(),
            **({"Seed target": review.verdict_text(self.verdict)} if self.verdict else {}),
            "Files": ", ".join(str(p.name) for p in self.files.values()),
        }


def start(session: Session) -> OpenedReview:
    """The material `review.*` asks for and a rating session on it (resumed when stored)."""
    P = session.params
    material = review.load_material(P)
    store = review.ReviewStore(review.store_path(P))
    return OpenedReview(material, review.ReviewSession.start(store, material, P.review))


def _table(session: Session, opened: OpenedReview, summary: ReviewSummary) -> ResultsTable:
    rs = opened.session
    rows = {}
    for source in summary.sources:
        w = summary.win_rates[source]
        metrics = {"win_rate": Estimate.of(w["win_rate"], (w["ci_low"], w["ci_high"]))}
        for criterion, mean in summary.mean_scores[source].items():
            metrics[f"score/{criterion}"] = Estimate.of(mean)
        rows[source] = SourceRow(n_apps=w["wins"] + w["losses"] + w["ties"], metrics=metrics)
    app_ids = sorted({item.app_id for item in rs.items})
    return common.table(session, {ROW_SET: (app_ids, rows)}, confidence=0.95)


def run(session: Session, opened: OpenedReview | None = None) -> ReviewResults:
    """Summarise the ratings stored for the review (`start(session)` when not given); writes
    results.json, summary, report and the exported ratings, and completes the run."""
    opened = opened or start(session)
    rs, material = opened.session, opened.material
    ratings = rs.store.ratings(rs.session_id)
    summary = review.summarize(ratings, material.sources, kind=rs.kind)
    results = ReviewResults(
        table=_table(session, opened, summary),
        review_summary=summary,
        verdict=review.verdict(rs.kind, ratings, session.params, material.origin),
        session_id=rs.session_id,
        kind=rs.kind.name,
        origin=material.origin,
        note=material.note,
        files=review.export(ratings, summary, session.run.dir / "artifacts"),
    )
    common.finish(session, results)
    return results
