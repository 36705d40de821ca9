"""SQLite store of review sessions and ratings: one file, WAL, every save its own transaction.

Durability: `journal_mode=WAL` lets one writer and many readers work at once and
`synchronous=FULL` fsyncs the WAL at every commit, so a submitted rating survives a crash of the
process or the machine. Each save is one `BEGIN IMMEDIATE` transaction (the rating row and its
history row together), so a process killed mid-save leaves nothing half-written: SQLite rolls
the open transaction back on the next open. Concurrent writers wait on `busy_timeout`.

The blinding map (which source sits on which side of each item) is stored here and only here.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cetd_lib.review.kinds import REQUIREMENTS, ReviewKind, review_kind

# 1: requirements only; 2: sessions.kind (files at 1 are migrated in place when opened)
SCHEMA_VERSION = 2
CRITERIA = REQUIREMENTS.criteria  # the requirements rubric, the default kind
CRITERIA_HELP = dict(REQUIREMENTS.criteria_help)
SIDES = ("left", "right")
PREFERENCES = ("left", "right", "tie")
STATUSES = ("draft", "submitted", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id     TEXT PRIMARY KEY,
    created_at     TEXT NOT NULL,
    seed           INTEGER NOT NULL,
    sources        TEXT NOT NULL,  -- JSON [first, second] as configured
    origin         TEXT NOT NULL,  -- where the requirements came from (run id or fallback)
    schema_version INTEGER NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'requirements'  -- cetd_lib.review.kinds, since v2
);
CREATE TABLE IF NOT EXISTS items (
    session_id         TEXT NOT NULL REFERENCES sessions(session_id),
    item_id            TEXT NOT NULL,
    position           INTEGER NOT NULL,
    app_id             TEXT NOT NULL,
    repeat_of          TEXT,           -- item_id of the first showing (self-consistency)
    left_source        TEXT NOT NULL,  -- the blinding map
    right_source       TEXT NOT NULL,
    left_requirements  TEXT NOT NULL,  -- JSON list of items
    right_requirements TEXT NOT NULL,
    code               TEXT NOT NULL,
    PRIMARY KEY (session_id, item_id)
);
CREATE TABLE IF NOT EXISTS ratings (
    session_id     TEXT NOT NULL,
    rater_id       TEXT NOT NULL,
    item_id        TEXT NOT NULL,
    left_source    TEXT NOT NULL,
    right_source   TEXT NOT NULL,
    scores         TEXT NOT NULL,  -- JSON {"left": {criterion: 1-5}, "right": {...}}
    preference     TEXT CHECK (preference IN ('left', 'right', 'tie')),
    rationale      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'skipped')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    submitted_at   TEXT,
    schema_version INTEGER NOT NULL,
    PRIMARY KEY (session_id, rater_id, item_id),
    FOREIGN KEY (session_id, item_id) REFERENCES items(session_id, item_id)
);
CREATE TABLE IF NOT EXISTS history (  -- every save, append-only: an audit trail of revisions
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    rater_id   TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
"""


class ReviewStoreError(RuntimeError):
    """The store cannot do what was asked; the message says what to change."""


class InvalidRatingError(ValueError):
    """A rating is incomplete or out of range; the message names the field."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredItem:
    """One item of a session as stored, blinding map included (never hand this to a UI)."""

    session_id: str
    item_id: str
    position: int
    app_id: str
    repeat_of: str | None
    left_source: str
    right_source: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    code: str

    def source_of(self, side: str) -> str:
        return self.left_source if side == "left" else self.right_source


@dataclass(frozen=True)
class Rating:
    """One rater's answer for one item; scores and preference are by side as shown."""

    session_id: str
    rater_id: str
    item_id: str
    app_id: str
    repeat_of: str | None
    left_source: str
    right_source: str
    scores: dict[str, dict[str, int]] = field(default_factory=dict)
    preference: str | None = None
    rationale: str = ""
    status: str = "draft"
    created_at: str = ""
    updated_at: str = ""
    submitted_at: str | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = REQUIREMENTS.name  # the session's kind: which rubric the scores follow

    @property
    def preferred_source(self) -> str | None:
        """The source the rater preferred, 'tie', or None (no preference given)."""
        if self.preference in ("left", "right"):
            return self.left_source if self.preference == "left" else self.right_source
        return self.preference

    def scores_by_source(self) -> dict[str, dict[str, int]]:
        return {
            self.left_source: dict(self.scores.get("left", {})),
            self.right_source: dict(self.scores.get("right", {})),
        }


def validate_answer(
    scores: dict[str, dict[str, int]],
    preference: str | None,
    status: str,
    kind: str | ReviewKind = REQUIREMENTS,
) -> dict[str, dict[str, int]]:
    """Check an answer against the rubric of `kind` and return clean scores; a submitted one
    needs every score and a preference, a draft may be partial, a skip may be empty."""
    kind = review_kind(kind)
    criteria = kind.criteria
    if status not in STATUSES:
        raise InvalidRatingError(f"status {status!r}: expected one of {STATUSES}")
    if preference is not None and preference not in PREFERENCES:
        raise InvalidRatingError(f"preference {preference!r}: expected one of {PREFERENCES}")
    clean: dict[str, dict[str, int]] = {}
    for side in scores:
        if side not in SIDES:
            raise InvalidRatingError(f"scores side {side!r}: expected 'left' or 'right'")
    for side in SIDES:
        clean[side] = {}
        for criterion, value in (scores.get(side) or {}).items():
            if criterion not in criteria:
                raise InvalidRatingError(
                    f"{side}.{criterion}: unknown criterion in the {kind.name} review; "
                    f"use {criteria}"
                )
            if value is None:
                continue
            if isinstance(value, bool) or int(value) != value or not 1 <= int(value) <= 5:
                raise InvalidRatingError(f"{side}.{criterion}={value!r}: expected 1 to 5")
            clean[side][criterion] = int(value)
    if status == "submitted":
        missing = [f"{s}.{c}" for s in SIDES for c in criteria if c not in clean[s]]
        if missing:
            raise InvalidRatingError(f"cannot submit: scores missing for {', '.join(missing)}")
        if preference is None:
            raise InvalidRatingError("cannot submit: choose a preference (left, right or tie)")
    return clean


class ReviewStore:
    """The SQLite file behind a review. One instance per process (connections do not cross
    `fork`); open it again in a child process."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise ReviewStoreError(
                f"{self.path}: SQLite refused WAL mode ({mode}); put the store on a local disk "
                "(network file systems do not support WAL), e.g. -p review.store=/tmp/r.sqlite"
            )
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ReviewStoreError(
                    f"{self.path}: schema version {version} is newer than this cetd_lib "
                    f"({SCHEMA_VERSION}); upgrade cetd-workbench or use another review.store"
                )
            for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT early
                if statement.strip():
                    conn.execute(statement)
            _migrate(conn)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT` (rolled back on any exception): takes the write lock
        up front, so two writers queue instead of failing half-way with SQLITE_BUSY."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- sessions and items -------------------------------------------------------------------
    def create_session(
        self,
        session_id: str,
        *,
        seed: int,
        sources: list[str],
        origin: str,
        items: list[StoredItem],
        kind: str = REQUIREMENTS.name,
    ) -> bool:
        """Store a session and its items; False when it already exists with the same items,
        an error when the id is taken by a different plan."""
        kind = review_kind(kind).name
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT sources, seed, kind FROM sessions WHERE session_id=?", (session_id,)
            ).fetchone()
            if row is not None:
                stored = [
                    (i.item_id, i.left_source, i.right_source) for i in self.items(session_id)
                ]
                planned = [(i.item_id, i.left_source, i.right_source) for i in items]
                if (
                    stored != planned
                    or json.loads(row["sources"]) != list(sources)
                    or row["kind"] != kind
                ):
                    raise ReviewStoreError(
                        f"{self.path}: session {session_id!r} exists with different items; set "
                        "review.session to a new id (or delete that session) to start over"
                    )
                return False
            conn.execute(
                "INSERT INTO sessions (session_id, created_at, seed, sources, origin, "
                "schema_version, kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, _now(), seed, json.dumps(list(sources)), origin, SCHEMA_VERSION, kind),
            )
            conn.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        i.item_id,
                        i.position,
                        i.app_id,
                        i.repeat_of,
                        i.left_source,
                        i.right_source,
                        json.dumps(list(i.left)),
                        json.dumps(list(i.right)),
                        i.code,
                    )
                    for i in items
                ],
            )
            return True

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM sessions ORDER BY created_at").fetchall()
        return [{**dict(r), "sources": json.loads(r["sources"])} for r in rows]

    def session_kind(self, session_id: str) -> ReviewKind:
        """The kind a session was created with (its rubric and labels)."""
        row = self.conn.execute(
            "SELECT kind FROM sessions WHERE session_id=?", (session_id,)
        ).fetchone()
        if row is None:
            raise ReviewStoreError(f"{self.path}: no session {session_id!r}")
        return review_kind(row["kind"])

    def items(self, session_id: str) -> list[StoredItem]:
        rows = self.conn.execute(
            "SELECT * FROM items WHERE session_id=? ORDER BY position", (session_id,)
        ).fetchall()
        return [
            StoredItem(
                session_id=r["session_id"],
                item_id=r["item_id"],
                position=r["position"],
                app_id=r["app_id"],
                repeat_of=r["repeat_of"],
                left_source=r["left_source"],
                right_source=r["right_source"],
                left=tuple(json.loads(r["left_requirements"])),
                right=tuple(json.loads(r["right_requirements"])),
                code=r["code"],
            )
            for r in rows
        ]

    # -- ratings ------------------------------------------------------------------------------
    def save_rating(
        self,
        session_id: str,
        rater_id: str,
        item_id: str,
        *,
        scores: dict[str, dict[str, int]] | None = None,
        preference: str | None = None,
        rationale: str = "",
        status: str = "submitted",
    ) -> Rating:
        """Validate and write one answer at once (upsert + history row, one transaction)."""
        if not rater_id.strip():
            raise InvalidRatingError("rater id is empty: set review.rater")
        clean = validate_answer(scores or {}, preference, status, self.session_kind(session_id))
        now = _now()
        with self.transaction() as conn:
            item = conn.execute(
                "SELECT left_source, right_source FROM items WHERE session_id=? AND item_id=?",
                (session_id, item_id),
            ).fetchone()
            if item is None:
                raise ReviewStoreError(f"no item {item_id!r} in session {session_id!r}")
            conn.execute(
                """
                INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (session_id, rater_id, item_id) DO UPDATE SET
                    scores=excluded.scores, preference=excluded.preference,
                    rationale=excluded.rationale, status=excluded.status,
                    updated_at=excluded.updated_at,
                    submitted_at=COALESCE(excluded.submitted_at, ratings.submitted_at),
                    schema_version=excluded.schema_version
                """,
                (
                    session_id,
                    rater_id,
                    item_id,
                    item["left_source"],
                    item["right_source"],
                    json.dumps(clean),
                    preference,
                    rationale,
                    status,
                    now,
                    now,
                    now if status == "submitted" else None,
                    SCHEMA_VERSION,
                ),
            )
            payload = {"scores": clean, "preference": preference, "rationale": rationale}
            conn.execute(
                "INSERT INTO history (session_id, rater_id, item_id, status, payload, saved_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, rater_id, item_id, status, json.dumps(payload), now),
            )
        found = self.ratings(session_id, rater_id, item_id=item_id)
        return found[0]

    def ratings(
        self,
        session_id: str | None = None,
        rater_id: str | None = None,
        *,
        item_id: str | None = None,
        status: str | None = None,
    ) -> list[Rating]:
        """Ratings (joined with their item's app id), filtered by whichever arguments are set."""
        where, args = [], []
        for column, value in (
            ("r.session_id", session_id),
            ("r.rater_id", rater_id),
            ("r.item_id", item_id),
            ("r.status", status),
        ):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = (
            "SELECT r.*, i.app_id, i.repeat_of, s.kind FROM ratings r JOIN items i "
            "ON i.session_id=r.session_id AND i.item_id=r.item_id "
            "JOIN sessions s ON s.session_id=r.session_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY r.session_id, r.rater_id, i.position"
        )
        return [
            Rating(
                session_id=r["session_id"],
                rater_id=r["rater_id"],
                item_id=r["item_id"],
                app_id=r["app_id"],
                repeat_of=r["repeat_of"],
                left_source=r["left_source"],
                right_source=r["right_source"],
                scores=json.loads(r["scores"]),
                preference=r["preference"],
                rationale=r["rationale"],
                status=r["status"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                submitted_at=r["submitted_at"],
                schema_version=r["schema_version"],
                kind=r["kind"],
            )
            for r in self.conn.execute(sql, args).fetchall()
        ]

    def history_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a file written by an older schema up to this one, inside the opening
    transaction (so a failed migration leaves the file as it was).

    v1 -> v2: `sessions.kind`; every v1 session was a requirements review, which the column
    default records.
    """
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(sessions)")}
    if "kind" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'requirements'")
