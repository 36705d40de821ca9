"""Review kinds: an explanation review end to end through the store, and old store files."""

import sqlite3
from pathlib import Path

import pytest

from cetd_lib.review import (
    CRITERIA,
    InvalidRatingError,
    ReviewConfig,
    ReviewSession,
    ReviewStore,
    ReviewStoreError,
    ReviewWidget,
    material_from_mappings,
    summarize,
    text_form,
)
from cetd_lib.review.store import SCHEMA_VERSION

EXPLANATION_CRITERIA = ("correctness", "clarity", "helpfulness")
V1_DUMP = Path(__file__).with_name("review_store_v1.sql")


def explanation_session(path, *, rater="r1", n_items=4, repeat_rate=0.25):
    ids = [f"explain-{n:06d}" for n in range(5)]
    material = material_from_mappings(
        {
            "model": {i: [f"Reasoning: {i} model.", "Explanation: model words."] for i in ids},
            "reference": {i: [f"Reasoning: {i} reference.", "Explanation: rule doc."] for i in ids},
        },
        {i: f"Finding: ruff F401 at line 1: `os` unused ({i})\n\n    1 | import os" for i in ids},
        origin="multitask-run",
        kind="explanation",
    )
    config = ReviewConfig(
        kind="explanation",
        sources=["model", "reference"],
        n_items=n_items,
        repeat_rate=repeat_rate,
        seed=1,
        rater=rater,
    )
    return ReviewSession.start(ReviewStore(path), material, config)


def scores(left: tuple[int, ...], right: tuple[int, ...], criteria=EXPLANATION_CRITERIA) -> dict:
    return {
        "left": dict(zip(criteria, left, strict=True)),
        "right": dict(zip(criteria, right, strict=True)),
    }


def test_explanation_review_end_to_end_through_the_store(tmp_path):
    session = explanation_session(tmp_path / "r.sqlite")
    assert session.kind.criteria == EXPLANATION_CRITERIA
    assert session.session_id.startswith("explanation-model-vs-reference-multitask-run-")
    assert len(session.items) == 5  # 4 sampled + 1 repeat
    first, second = session.items[0], session.items[1]

    form = text_form(first, total=len(session.items))
    assert "finding explain-" in form and "--- code and finding ---" in form
    assert "EXPLANATION A (left)" in form and "correctness: true of the code" in form
    assert "'LEFT 3 digits | RIGHT 3 digits | L/R/T | rationale'" in form
    assert "1. Reasoning" not in form  # an explanation is a paragraph, not a numbered list

    session.submit(first.item_id, scores((4, 3, 5), (2, 3, 4)), "left", "names the line")
    session.submit_text(second.item_id, "453 | 342 | B | B is closer to the rule")
    answer = session.answer(second.item_id)
    assert answer.scores["left"] == {"correctness": 4, "clarity": 5, "helpfulness": 3}
    assert answer.preference == "right" and answer.status == "submitted"

    # the requirements rubric is refused for an explanation session, naming the field
    with pytest.raises(InvalidRatingError, match=r"left\.accuracy: unknown criterion in the "):
        session.submit(session.items[2].item_id, scores((4,) * 4, (3,) * 4, CRITERIA), "left")
    with pytest.raises(InvalidRatingError, match="expected three digits 1-5"):
        session.submit_text(session.items[2].item_id, "4534 | 3425 | L")
    with pytest.raises(InvalidRatingError, match=r"right\.helpfulness"):
        session.submit(session.items[2].item_id, {"left": scores((4, 4, 4), (3, 3, 3))["left"],
                       "right": {"correctness": 3, "clarity": 3}}, "left")  # fmt: skip
    assert session.progress() == (2, 5)

    store = session.store
    assert [s["kind"] for s in store.sessions()] == ["explanation"]
    ratings = store.ratings(session.session_id)
    assert {r.kind for r in ratings} == {"explanation"}
    summary = summarize(ratings, ["model", "reference"], kind=session.kind)
    # the model's side of each answer, by hand from the stored blinding map
    model_scores = [
        r.scores["left"] if r.left_source == "model" else r.scores["right"] for r in ratings
    ]
    assert len(model_scores) == 2
    assert summary.kind == "explanation" and summary.criteria == EXPLANATION_CRITERIA
    for criterion in EXPLANATION_CRITERIA:
        expected = sum(s[criterion] for s in model_scores) / 2
        assert summary.mean_scores["model"][criterion] == pytest.approx(expected)
    assert "| correctness | clarity | helpfulness |" in summary.to_markdown()
    assert "accuracy" not in summary.to_markdown()
    with pytest.raises(ValueError, match="explanation"):
        summarize(ratings, ["model", "reference"])  # the requirements rubric: refused


def test_explanation_widget_uses_its_rubric_and_labels(tmp_path):
    session = explanation_session(tmp_path / "r.sqlite")
    widget = ReviewWidget(session)
    assert list(widget.scores["left"]) == list(EXPLANATION_CRITERIA)
    assert [label for label, _ in widget.preference.options] == ["◀ A better", "Tie", "B better ▶"]
    assert "Explanation A (left)" in widget.lists["left"].value
    assert widget.code_pane.titles == ("Code and finding",) and "finding" in widget.header.value
    widget.quick.value = "555 | 111 | A | A is right"
    item = session.items[0]
    assert session.answer(item.item_id).preference == "left"
    assert session.answer(item.item_id).scores["right"] == dict.fromkeys(EXPLANATION_CRITERIA, 1)


def test_kind_mismatches_and_unknown_kinds_are_errors(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'explanation'"):
        ReviewConfig(kind="explanations")
    with pytest.raises(ValueError, match="always compares"):
        ReviewConfig(kind="explanation", sources=["model", "phase1"])
    material = material_from_mappings(
        {"model": {"e": ["x"]}, "reference": {"e": ["y"]}}, {"e": "code"}, kind="explanation"
    )
    with pytest.raises(ValueError, match="set review.kind=explanation"):
        ReviewSession.start(ReviewStore(tmp_path / "r.sqlite"), material, ReviewConfig())


def test_a_session_id_reused_for_another_kind_is_an_error(tmp_path):
    session = explanation_session(tmp_path / "r.sqlite")
    items = session.store.items(session.session_id)
    with pytest.raises(ReviewStoreError, match="exists with different items"):
        session.store.create_session(
            session.session_id, seed=1, sources=["model", "reference"], origin="x", items=items
        )  # same items, but created as a requirements session


def _v1_store(path: Path) -> Path:
    """A store file exactly as the schema-1 code left it (dumped from that code)."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_DUMP.read_text())
    conn.execute("PRAGMA user_version=1")
    conn.close()
    return path


def test_a_store_written_by_the_old_schema_opens_migrated_and_works(tmp_path):
    path = _v1_store(tmp_path / "old.sqlite")
    old_session = "model-vs-gold-phase2-v1-seed1-n3-92136239"
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(sessions)")]
    assert "kind" not in columns

    store = ReviewStore(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert [(s["session_id"], s["kind"]) for s in store.sessions()] == [
        (old_session, "requirements")
    ]
    # the old rater resumes: their submitted answer and their draft are still there
    session = ReviewSession(store, old_session, "old")
    assert session.kind.name == "requirements"
    assert session.statuses() == {"calc": "submitted", "stack": "draft", "queue": "todo"}
    assert session.resume_index() == 1
    session.submit_text("stack", "3333 | 4444 | R | right is fuller")
    old = [r for r in store.ratings(old_session) if r.item_id == "calc"][0]
    assert old.schema_version == 1 and old.kind == "requirements" and old.rationale
    summary = summarize(store.ratings(old_session), ["model", "gold"])
    assert summary.n_submitted == 2
    assert summary.win_rates["model"]["wins"] == 2  # calc: model left, left; stack: model right
    assert summary.mean_scores["model"]["accuracy"] == pytest.approx((4 + 4) / 2)

    # an explanation session can now live in the same file, and a reopen migrates nothing twice
    store.close()
    explanation = explanation_session(path)
    assert {s["kind"] for s in explanation.store.sessions()} == {"requirements", "explanation"}
    explanation.store.close()
    reopened = ReviewStore(path)
    assert reopened.integrity_check() == "ok"
    assert len(reopened.ratings(old_session)) == 2
