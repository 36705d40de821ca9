"""The code corpus: source files gathered, chunked at top-level def/class boundaries,
deduplicated (exact + MinHash near-duplicates) and split by source group.

The split unit is a *group*: an app (its src and tests together, keyed by app id as in
`cetd_lib.apps.splits`) or one standard-library file. Every chunk, label, pair and annotation made
from a file inherits its group's split, so nothing from one file can sit in two splits.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cetd_lib.apps.app import App
from cetd_lib.apps.splits import split_of
from cetd_lib.langpack import LanguagePack, SourceFileError


@dataclass(frozen=True)
class SourceFile:
    """One file of the corpus. `group` decides the split; `role` is `code` or `test`."""

    source_id: str  # "apps/<app>/src/x.py", "humaneval/<app>/solution.py", "stdlib/json/x.py"
    origin: str  # apps | humaneval | stdlib | variant
    group: str
    text: str
    role: str = "code"


@dataclass(frozen=True)
class Skipped:
    """A file or chunk left out of the data, and why (listed in the datasheet)."""

    source_id: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A parseable slice of one source file: whole top-level statements, or a class header plus
    some of its methods when the class alone exceeds the budget."""

    chunk_id: str  # "<source_id>#<index>"
    source_id: str
    group: str
    origin: str
    role: str
    text: str
    start_line: int  # 1-based, inclusive, in the source file (header lines excluded)
    end_line: int
    symbols: tuple[str, ...] = ()
    split: str = ""

    def covers(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line


# ---------------------------------------------------------------------------------------------
# Gathering
# ---------------------------------------------------------------------------------------------


def app_sources(apps: Iterable[App], origin: str) -> list[SourceFile]:
    """src and test modules of validated apps; the group is the app id."""
    files = []
    for app in apps:
        files += [
            SourceFile(f"{origin}/{app.app_id}/src/{name}", origin, app.app_id, text, "code")
            for name, text in sorted(app.sources.items())
        ]
        files += [
            SourceFile(f"{origin}/{app.app_id}/tests/{name}", origin, app.app_id, text, "test")
            for name, text in sorted(app.tests.items())
        ]
    return files


def read_source(path: Path, source_id: str, max_chars: int) -> str:
    """The text of a file, or a `SourceFileError` saying why it cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceFileError(source_id, f"unreadable: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceFileError(source_id, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if len(text) > max_chars:
        raise SourceFileError(
            source_id, f"{len(text)} characters exceeds max_file_chars={max_chars}"
        )
    return text


def stdlib_files(root: Path, exclude_dirs: Sequence[str], max_files: int | None, seed: int):
    """A seeded sample of `root/**/*.py` (sorted), skipping `exclude_dirs` at any depth.

    A seeded sample rather than the first N: alphabetical order would fill a smoke build with
    `asyncio` and `concurrent` alone.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"standard-library directory {root} does not exist")
    excluded = set(exclude_dirs)
    paths = sorted(
        p for p in root.rglob("*.py") if not excluded & set(p.relative_to(root).parts[:-1])
    )
    if max_files is not None and len(paths) > max_files:
        paths = sorted(random.Random(seed).sample(paths, max_files))
    return paths


def gather_stdlib(
    root: str | Path | None,
    exclude_dirs: Sequence[str],
    max_files: int | None,
    max_file_chars: int,
    seed: int,
    pack: LanguagePack,
) -> tuple[list[SourceFile], list[Skipped]]:
    """Standard-library sources; each file is its own group. Unusable files are listed."""
    base = Path(root or sysconfig.get_paths()["stdlib"])
    files, skipped = [], []
    for path in stdlib_files(base, exclude_dirs, max_files, seed):
        source_id = f"stdlib/{path.relative_to(base).as_posix()}"
        try:
            text = read_source(path, source_id, max_file_chars)
            pack.parse(text, source_id)
        except SourceFileError as exc:
            skipped.append(Skipped(source_id, exc.problem))
            continue
        files.append(SourceFile(source_id, "stdlib", source_id, text))
    return files, skipped


# ---------------------------------------------------------------------------------------------
# Chunking at top-level boundaries
# ---------------------------------------------------------------------------------------------

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _spans(body: Sequence[ast.stmt], first: int, last: int) -> list[tuple[int, int, ast.stmt]]:
    """(start, end, stmt) partitioning lines first..last: each statement owns the comments and
    blank lines before it (and its decorators); the last one runs to `last`."""
    spans = []
    start = first
    for index, stmt in enumerate(body):
        end = last if index == len(body) - 1 else body[index + 1].lineno - 1
        nxt = body[index + 1] if index + 1 < len(body) else None
        if nxt is not None and getattr(nxt, "decorator_list", None):
            end = min(d.lineno for d in nxt.decorator_list) - 1
        spans.append((start, end, stmt))
        start = end + 1
    return spans


def _units(tree: ast.Module, n_lines: int) -> list[tuple[int, int, list[ast.stmt]]]:
    """Top-level units: the preamble, then each def/class with the plain statements after it."""
    units: list[tuple[int, int, list[ast.stmt]]] = []
    for start, end, stmt in _spans(tree.body, 1, n_lines):
        if isinstance(stmt, _DEFS) or not units:
            units.append((start, end, [stmt]))
        else:
            first, _, stmts = units[-1]
            units[-1] = (first, end, [*stmts, stmt])
    return units


def _name(stmt: ast.stmt) -> str | None:
    return stmt.name if isinstance(stmt, _DEFS) else None


def _split_class(
    node: ast.ClassDef, start: int, end: int, lines: list[str], max_chars: int
) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """A class over budget as (text, start, end, symbols) pieces: header + a run of members."""
    body_start = node.body[0].lineno
    if getattr(node.body[0], "decorator_list", None):
        body_start = min(d.lineno for d in node.body[0].decorator_list)
    header = "".join(lines[start - 1 : body_start - 1])
    pieces: list[tuple[int, int, tuple[str, ...]]] = []
    cur_start: int | None = None
    cur_end = start
    cur_syms: list[str] = []
    for s, e, stmt in _spans(node.body, body_start, end):
        text_len = sum(len(line) for line in lines[s - 1 : e])
        if cur_start is not None and (
            len(header) + sum(len(x) for x in lines[cur_start - 1 : cur_end]) + text_len > max_chars
        ):
            pieces.append((cur_start, cur_end, tuple(cur_syms)))
            cur_start, cur_syms = None, []
        cur_start = s if cur_start is None else cur_start
        cur_end = e
        if (member := _name(stmt)) is not None:
            cur_syms.append(f"{node.name}.{member}")
    if cur_start is not None:
        pieces.append((cur_start, cur_end, tuple(cur_syms)))
    out = []
    for index, (s, e, syms) in enumerate(pieces):
        body = "".join(lines[s - 1 : e])
        # The first piece keeps the header in its own line span, so findings on the class line
        # map to it.
        text, first_line = (
            ("".join(lines[start - 1 : e]), start) if index == 0 else (header + body, s)
        )
        out.append((text, first_line, e, (node.name, *syms)))
    return out


def chunk_source(
    source: SourceFile, tree: ast.Module, max_chars: int, min_chars: int
) -> tuple[list[Chunk], list[Skipped]]:
    """Pack top-level units into chunks of at most `max_chars`; a class over budget is split
    between members; a function over budget cannot be split and is skipped (listed)."""
    lines = source.text.splitlines(keepends=True)
    pieces: list[tuple[str, int, int, tuple[str, ...]]] = []
    skipped: list[Skipped] = []
    pending: list[tuple[int, int, tuple[str, ...]]] = []

    def flush() -> None:
        if pending:
            s, e = pending[0][0], pending[-1][1]
            syms = tuple(sym for p in pending for sym in p[2])
            pieces.append(("".join(lines[s - 1 : e]), s, e, syms))
            pending.clear()

    for start, end, stmts in _units(tree, len(lines)):
        size = sum(len(line) for line in lines[start - 1 : end])
        syms = tuple(n for n in (_name(s) for s in stmts) if n)
        if size > max_chars:
            flush()
            head = stmts[0]
            if isinstance(head, ast.ClassDef) and len(stmts) == 1 and head.body:
                for text, s, e, names in _split_class(head, start, end, lines, max_chars):
                    if len(text) > max_chars:
                        skipped.append(
                            Skipped(
                                f"{source.source_id}:{s}-{e}",
                                f"class member of {len(text)} characters exceeds "
                                f"chunk_max_chars={max_chars}",
                            )
                        )
                    else:
                        pieces.append((text, s, e, names))
            else:
                skipped.append(
                    Skipped(
                        f"{source.source_id}:{start}-{end}",
                        f"top-level unit of {size} characters exceeds chunk_max_chars={max_chars}",
                    )
                )
            continue
        pending_size = sum(len(line) for p in pending for line in lines[p[0] - 1 : p[1]])
        if pending and pending_size + size > max_chars:
            flush()
        pending.append((start, end, syms))
    flush()

    chunks = []
    for text, start, end, syms in pieces:
        if len(text.strip()) < min_chars:
            continue  # blank tails and lone `__all__` lines carry no signal
        chunks.append(
            Chunk(
                chunk_id=f"{source.source_id}#{len(chunks)}",
                source_id=source.source_id,
                group=source.group,
                origin=source.origin,
                role=source.role,
                text=text,
                start_line=start,
                end_line=end,
                symbols=syms,
            )
        )
    return chunks, skipped


# ---------------------------------------------------------------------------------------------
# Deduplication: exact hash, then MinHash + LSH over token shingles
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MERSENNE61 = np.uint64((1 << 61) - 1)


def normalized_hash(text: str) -> str:
    """sha256 of the text with trailing whitespace and blank lines removed."""
    lines = [line.rstrip() for line in text.splitlines()]
    return hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()


def shingles(text: str, size: int) -> set[int]:
    """32-bit hashes of every run of `size` consecutive tokens (the whole text if shorter)."""
    tokens = _TOKEN.findall(text)
    grams = [" ".join(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1))]
    return {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams
    }


def jaccard(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass
class MinHasher:
    """MinHash (Broder 1997) with universal hashes h(x) = (a·x + b) mod (2^61 − 1).

    a, b < 2^32 and x < 2^32 keep a·x + b inside uint64, so numpy needs no big integers.
    P[sig_i(A) = sig_i(B)] = Jaccard(A, B) for each of the `permutations` coordinates.
    """

    permutations: int = 128
    seed: int = 0
    _a: np.ndarray = field(init=False, repr=False)
    _b: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._a = rng.integers(1, 2**32, size=self.permutations, dtype=np.uint64)
        self._b = rng.integers(0, 2**32, size=self.permutations, dtype=np.uint64)

    def signature(self, shingle_set: set[int]) -> np.ndarray:
        x = np.fromiter(shingle_set, dtype=np.uint64, count=len(shingle_set))
        if x.size == 0:
            return np.full(self.permutations, np.iinfo(np.uint64).max, dtype=np.uint64)
        hashed = (self._a[:, None] * x[None, :] + self._b[:, None]) % _MERSENNE61
        return hashed.min(axis=1)


@dataclass(frozen=True)
class DedupReport:
    kept: list[int]  # indices into the input, in input order
    exact: dict[int, int]  # dropped index -> index of the kept copy
    near: dict[int, tuple[int, float]]  # dropped index -> (kept index, Jaccard)


def deduplicate(
    texts: Sequence[str],
    *,
    threshold: float = 0.85,
    shingle_size: int = 5,
    permutations: int = 128,
    bands: int = 32,
    seed: int = 0,
) -> DedupReport:
    """Keep the first of every exact or near-duplicate set, in input order.

    Candidates come from LSH banding of MinHash signatures (`bands` bands of
    `permutations / bands` rows: a pair with Jaccard s collides in some band with probability
    1 − (1 − s^r)^b); each candidate is then confirmed with the exact shingle Jaccard, so the
    estimate only decides what gets compared, never what gets dropped.
    """
    rows = permutations // bands
    hasher = MinHasher(permutations, seed)
    seen_exact: dict[str, int] = {}
    buckets: dict[tuple[int, bytes], list[int]] = {}
    shingle_sets: dict[int, set[int]] = {}
    kept: list[int] = []
    exact: dict[int, int] = {}
    near: dict[int, tuple[int, float]] = {}
    for index, text in enumerate(texts):
        digest = normalized_hash(text)
        if digest in seen_exact:
            exact[index] = seen_exact[digest]
            continue
        seen_exact[digest] = index
        grams = shingles(text, shingle_size)
        signature = hasher.signature(grams)
        keys = [
            (band, signature[band * rows : (band + 1) * rows].tobytes()) for band in range(bands)
        ]
        candidates = sorted({c for key in keys for c in buckets.get(key, ())})
        match = None
        for candidate in candidates:
            similarity = jaccard(grams, shingle_sets[candidate])
            if similarity >= threshold:
                match = (candidate, similarity)
                break
        if match is not None:
            near[index] = match
            continue
        kept.append(index)
        shingle_sets[index] = grams
        for key in keys:
            buckets.setdefault(key, []).append(index)
    return DedupReport(kept, exact, near)


# ---------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------


def split_for_group(group: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """The split of a source group: `cetd_lib.apps.splits.split_of` on the group key, so an app
    lands where the Phase-2 split puts it under the same seed and fractions."""
    return split_of(group, seed=seed, fractions=fractions)
