"""Result cache: SQLite (WAL mode) keyed by sha256 of (generated files, tests, limits, version).

Shared by every run and process on the machine (several notebooks, RL workers). A cache that is
corrupt, locked for too long or unwritable turns itself off with ONE warning and the harness
runs the tests instead: a cache problem can cost time, never a wrong score. Each row also
stores the sha256 of its value, checked on read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cetd_lib.sandbox.config import HARNESS_VERSION, HarnessConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    digest TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
)
"""
_CHUNK = 500  # keys per SELECT (SQLite's bound-parameter limit is 999 on old builds)


class CacheUnavailableWarning(RuntimeWarning):
    """The result cache was turned off for this process; results are computed afresh."""


def default_cache_path() -> Path:
    """$CETD_CACHE/harness.sqlite, else ~/.cache/cetd/harness.sqlite."""
    from cetd_lib.models.base import cache_root  # lazily: the runner needs no model code

    return cache_root() / "harness.sqlite"


def result_key(
    sources: Mapping[str, str],
    tests: Mapping[str, str],
    limits: Mapping[str, Any],
    timeout_s: float,
) -> str:
    """sha256 over everything that can change a run's outcome."""
    payload = json.dumps(
        {
            "harness": HARNESS_VERSION,
            "sources": sorted(sources.items()),
            "tests": sorted(tests.items()),
            "limits": dict(sorted(limits.items())),
            "timeout_s": float(timeout_s),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    """`get_many(keys) -> {key: value}` and `put_many({key: value})`; values are JSON dicts."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._warned = False
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.execute("SELECT count(*) FROM results WHERE key = ''").fetchone()
            self._conn = conn
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    def _disable(self, exc: BaseException) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"harness result cache {self.path} is unusable ({exc}); running without a "
                "cache. Delete the file or set harness.cache_path to fix this.",
                CacheUnavailableWarning,
                stacklevel=3,
            )

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            if self._conn is None or not keys:
                return found
            try:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    rows = self._conn.execute(
                        f"SELECT key, value, digest FROM results WHERE key IN "
                        f"({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                    for key, value, digest in rows:
                        if hashlib.sha256(value.encode()).hexdigest() != digest:
                            raise sqlite3.DatabaseError(f"row {key[:12]} fails its checksum")
                        found[key] = json.loads(value)
            except (sqlite3.Error, ValueError) as exc:
                self._disable(exc)
                return {}
        return found

    def put_many(self, items: Mapping[str, Mapping[str, Any]]) -> None:
        rows = []
        for key, value in items.items():
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
            rows.append((key, text, hashlib.sha256(text.encode()).hexdigest()))
        with self._lock:
            if self._conn is None or not rows:
                return
            try:
                with self._conn:  # one transaction
                    self._conn.execute("BEGIN IMMEDIATE")
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO results (key, value, digest) VALUES (?, ?, ?)", rows
                    )
            except sqlite3.Error as exc:
                self._disable(exc)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            try:
                return int(self._conn.execute("SELECT count(*) FROM results").fetchone()[0])
            except sqlite3.Error as exc:
                self._disable(exc)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def open_cache(config: HarnessConfig) -> ResultCache | None:
    """The cache a config asks for, or None when `config.cache` is off."""
    if not config.cache:
        return None
    return ResultCache(config.cache_path or default_cache_path())
