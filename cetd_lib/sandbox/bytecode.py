"""pytest's assertion-rewritten bytecode of test files, kept for the next job and the next process.

pytest rewrites the asserts of every test module it imports (parse, rewrite, compile: 3-5 ms for
a HumanEval test file, a fifth of a sandboxed app's cost) and keeps the result in a
`__pycache__` next to the file so that the next session does not pay again. The sandbox writes
every app into a fresh directory, which defeats that cache; this store takes its place on the
runner's side: the worker rewrites a test file it has no bytecode for and returns the bytes, the
pool keeps them in memory and, for original (not generated) tests run under namespaces, on disk,
and sends them with every later job that has the same file at the same path.

Trust: entries come from workers, which rewrite a file before forking the child that runs it;
sandboxed code never writes here (under namespaces it cannot even see the directory). Keys
include the path the workers import the file from, because code objects carry their file name;
under namespaces that path is the same in every worker and process (/sandbox/tests/...), under
rlimits-only it is a fresh temporary directory per pool, hence memory only there. pytest checks
each pyc against the source hash when it imports it, and so does `valid_for` before one is sent.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path

from cetd_lib.sandbox._pyc import pyc_matches, rewritten_by_pytest
from cetd_lib.sandbox.config import HARNESS_VERSION

__all__ = ["RewrittenTestStore", "default_bytecode_dir", "rewritten_by_pytest", "valid_for"]


def default_bytecode_dir() -> Path:
    """$CETD_CACHE/rewritten-tests, else ~/.cache/cetd/rewritten-tests."""
    from cetd_lib.models.base import cache_root  # lazily: the pool needs no model code

    return cache_root() / "rewritten-tests"


def valid_for(pyc: bytes, source: str) -> bool:
    """True if `pyc` is a pytest pyc of this interpreter for exactly this source text."""
    return pyc_matches(pyc, source.encode("utf-8"))


class RewrittenTestStore:
    """(worker path, test file text) -> pytest pyc bytes; in memory, and on disk under
    `directory` (None: memory only). Safe to share between the pool's feeder threads."""

    def __init__(self, directory: Path | None, max_memory_entries: int = 4096) -> None:
        self.directory = None
        if directory is not None:
            from importlib.metadata import version

            tag = f"pytest-{version('pytest')}-{sys.implementation.cache_tag}-h{HARNESS_VERSION}"
            self.directory = Path(directory) / tag
        self._memory: dict[str, bytes] = {}
        self._max = max_memory_entries
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(path: str, text: str) -> str:
        return hashlib.sha256(f"{path}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, path: str, text: str) -> bytes | None:
        key = self.key(path, text)
        pyc = self._memory.get(key)
        if pyc is None and self.directory is not None:
            try:
                pyc = (self.directory / f"{key}.pyc").read_bytes()
            except OSError:
                pyc = None
            if pyc is not None and valid_for(pyc, text):
                self._remember(key, pyc)
            else:
                pyc = None
        with self._lock:
            if pyc is None:
                self.misses += 1
            else:
                self.hits += 1
        return pyc

    def put(self, path: str, text: str, pyc: bytes, persist: bool) -> None:
        """Keep a worker's bytecode; `persist` also writes it to disk."""
        if not valid_for(pyc, text):
            return
        key = self.key(path, text)
        self._remember(key, pyc)
        if not persist or self.directory is None:
            return
        target = self.directory / f"{key}.pyc"
        if target.exists():
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pyc)
                os.replace(tmp, target)  # readers see a whole file or none
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a read-only or full cache dir costs speed, never results
            import warnings

            warnings.warn(
                f"could not keep rewritten test bytecode in {self.directory}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            self.directory = None

    def _remember(self, key: str, pyc: bytes) -> None:
        with self._lock:
            if len(self._memory) >= self._max:
                self._memory.clear()
            self._memory[key] = pyc
