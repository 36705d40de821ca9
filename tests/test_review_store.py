"""The ratings store: concurrent writers, a crash inside a transaction, resume, blinding map."""

import multiprocessing
import os
import signal
import sqlite3
import time

import pytest

from cetd_lib.review import (
    InvalidRatingError,
    ReviewConfig,
    ReviewSession,
    ReviewStore,
    ReviewStoreError,
    plan_session,
)
from cetd_lib.review.store import SCHEMA_VERSION
from tests.review_fixtures import SECRET_A, SECRET_B, full_scores, make_material, make_session

FORK = multiprocessing.get_context("fork")


def _writer(path, rater, session_id, saves):
    store = ReviewStore(path)
    session = ReviewSession(store, session_id, rater)
    for n in range(saves):
        item = session.items[n % len(session.items)]
        session.submit(item.item_id, full_scores(1 + n % 5, 5 - n % 5), "left", f"save {n}")
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    session = make_session(path)
    saves = 15
    workers = [
        FORK.Process(target=_writer, args=(path, f"rater{k}", session.session_id, saves))
        for k in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    store = ReviewStore(path)
    assert store.integrity_check() == "ok"
    assert store.history_count() == 4 * saves
    ratings = store.ratings(session.session_id)
    assert len(ratings) == 4 * len(session.items)
    assert {r.status for r in ratings} == {"submitted"}


def _crash_mid_save(path, session_id, item_id, ready):
    store = ReviewStore(path)

    def stall(statement):  # runs when a statement starts: the rating row is already written
        if statement.lstrip().startswith("INSERT INTO history"):
            ready.set()
            time.sleep(60)

    store.conn.set_trace_callback(stall)
    ReviewSession(store, session_id, "crasher").submit(item_id, full_scores(), "right", "lost")


def test_a_process_killed_inside_a_save_leaves_the_store_consistent(tmp_path):
    path = tmp_path / "r.sqlite"
    session = make_session(path, rater="crasher")
    first, second = session.items[0].item_id, session.items[1].item_id
    session.submit(first, full_scores(), "left", "kept")
    ready = FORK.Event()
    child = FORK.Process(target=_crash_mid_save, args=(path, session.session_id, second, ready))
    child.start()
    assert ready.wait(30), "the child never reached the middle of its transaction"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL

    store = ReviewStore(path)  # reopening recovers: the open transaction is rolled back
    assert store.integrity_check() == "ok"
    ratings = store.ratings(session.session_id, "crasher")
    assert [(r.item_id, r.rationale) for r in ratings] == [(first, "kept")]
    assert store.history_count() == 1  # neither half of the killed save is there
    resumed = ReviewSession(store, session.session_id, "crasher")
    resumed.submit(second, full_scores(), "tie")  # and the store takes writes again
    assert resumed.progress() == (2, len(resumed.items))


def test_resume_skips_finished_items_and_keeps_drafts(tmp_path):
    path = tmp_path / "r.sqlite"
    session = make_session(path)
    ids = [item.item_id for item in session.items]
    session.submit(ids[0], full_scores(), "left")
    session.skip(ids[1])
    session.save_draft(ids[2], {"left": {"accuracy": 2}}, None, "half done")
    session.store.close()

    again = make_session(path)  # a new process would do exactly this
    assert again.session_id == session.session_id
    assert again.resume_index() == 2
    assert again.progress() == (2, len(ids))
    assert again.answer(ids[2]).scores["left"] == {"accuracy": 2}
    assert again.answer(ids[2]).status == "draft"
    assert make_session(path, rater="r2").resume_index() == 0  # progress is per rater


def test_every_answer_has_its_metadata(tmp_path):
    session = make_session(tmp_path / "r.sqlite")
    item = session.items[0]
    session.submit(item.item_id, full_scores(), "left", "why")
    (rating,) = session.store.ratings(session.session_id, "r1")
    assert rating.status == "submitted" and rating.schema_version == SCHEMA_VERSION
    assert rating.created_at and rating.submitted_at and rating.rationale == "why"
    assert {rating.left_source, rating.right_source} == {SECRET_A, SECRET_B}
    assert sqlite3.connect(session.store.path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_blinding_map_matches_the_sources_and_is_seeded(tmp_path):
    material = make_material(20)
    config = ReviewConfig(sources=[SECRET_A, SECRET_B], n_items=10, repeat_rate=0.2, seed=1)
    session_id, items = plan_session(material, config)
    assert plan_session(material, config) == (session_id, items)  # same seed, same plan
    assert len(items) == 12 and sum(i.repeat_of is not None for i in items) == 2
    for item in items:
        assert list(item.left) == material.requirements[item.left_source][item.app_id]
        assert list(item.right) == material.requirements[item.right_source][item.app_id]
        assert {item.left_source, item.right_source} == {SECRET_A, SECRET_B}
        if item.repeat_of:
            original = next(i for i in items if i.item_id == item.repeat_of)
            assert original.position < item.position
    assert {i.left_source for i in items} == {SECRET_A, SECRET_B}  # both sides occur
    other_id, other = plan_session(material, ReviewConfig(sources=[SECRET_A, SECRET_B], seed=2))
    assert other_id != session_id


def test_invalid_answers_are_refused_with_the_field_named(tmp_path):
    session = make_session(tmp_path / "r.sqlite")
    item_id = session.items[0].item_id
    with pytest.raises(InvalidRatingError, match="right.clarity"):
        session.submit(item_id, {"left": full_scores()["left"], "right": {}}, "left")
    with pytest.raises(InvalidRatingError, match="expected 1 to 5"):
        session.save_draft(item_id, {"left": {"accuracy": 6}})
    with pytest.raises(InvalidRatingError, match="preference"):
        session.submit(item_id, full_scores(), None)
    assert session.store.ratings(session.session_id) == []


def test_a_session_id_reused_for_other_items_is_an_error(tmp_path):
    path = tmp_path / "r.sqlite"
    make_session(path, seed=1).store.close()
    store = ReviewStore(path)
    fixed = ReviewConfig(sources=[SECRET_A, SECRET_B], seed=1, n_items=5, repeat_rate=0.4)
    session_id, _ = plan_session(make_material(), fixed)
    clash = ReviewConfig(sources=[SECRET_A, SECRET_B], seed=9, session=session_id)
    with pytest.raises(ReviewStoreError, match="different items"):
        ReviewSession.start(store, make_material(), clash)
