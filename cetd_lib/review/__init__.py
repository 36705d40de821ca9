"""Blind side-by-side human review of two sources (see docs/review.md): requirement lists, or
explanations of lint/security findings (`review.kind`, registered in `cetd_lib.review.kinds`).

material = load_material(params)                     # two sources + code per app
store = ReviewStore(store_path(params))              # SQLite, WAL
session = ReviewSession.start(store, material, params.review)
ReviewWidget(session)                                # in JupyterLab
print(text_form(session.items[0])); session.submit_text(item_id, "4534 | 3425 | L | why")
summary = summarize(store.ratings(session.session_id), material.sources, kind=session.kind)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cetd_lib.review.config import ReviewConfig
from cetd_lib.review.items import (
    ReviewMaterial,
    ReviewSourceError,
    load_material,
    material_from_mappings,
    plan_session,
)
from cetd_lib.review.kinds import KINDS, ReviewKind, review_kind, verdict, verdict_text
from cetd_lib.review.rater import (
    Answer,
    BlindItem,
    ReviewSession,
    example_answer,
    parse_answer,
    text_form,
)
from cetd_lib.review.store import (
    CRITERIA,
    InvalidRatingError,
    Rating,
    ReviewStore,
    ReviewStoreError,
)
from cetd_lib.review.summary import ReviewSummary, export, summarize

if TYPE_CHECKING:
    from cetd_lib.params import Params
    from cetd_lib.review.widget import ReviewWidget

__all__ = [
    "CRITERIA",
    "KINDS",
    "Answer",
    "BlindItem",
    "InvalidRatingError",
    "Rating",
    "ReviewConfig",
    "ReviewKind",
    "ReviewMaterial",
    "ReviewSession",
    "ReviewSourceError",
    "ReviewStore",
    "ReviewStoreError",
    "ReviewSummary",
    "ReviewWidget",
    "example_answer",
    "export",
    "load_material",
    "material_from_mappings",
    "parse_answer",
    "plan_session",
    "review_kind",
    "store_path",
    "summarize",
    "text_form",
    "verdict",
    "verdict_text",
]


def store_path(params: Params) -> Path:
    """`review.store`, relative paths taken under `run.outputs_dir`."""
    path = Path(params.review.store)
    return path if path.is_absolute() else Path(params.run.outputs_dir) / path


def __getattr__(name: str) -> Any:
    if name == "ReviewWidget":  # ipywidgets is imported only when the form is wanted
        from cetd_lib.review.widget import ReviewWidget

        return ReviewWidget
    raise AttributeError(f"module 'cetd_lib.review' has no attribute {name!r}")
