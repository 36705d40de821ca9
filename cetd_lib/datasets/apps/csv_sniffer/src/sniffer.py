"""Guess the dialect and column types of a small delimited-text sample."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

DEFAULT_CANDIDATES = ",;\t|"

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BOOLS = {"true": True, "false": False}


def split_row(line: str, delimiter: str, quote: str = '"') -> list[str]:
    """Split one line, honouring quoted fields and doubled quotes inside them."""
    fields: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_quotes:
            if ch == quote:
                if i + 1 < len(line) and line[i + 1] == quote:
                    buf.append(quote)
                    i += 1
                else:
                    in_quotes = False
            else:
                buf.append(ch)
        elif ch == quote:
            in_quotes = True
        elif ch == delimiter:
            fields.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quotes:
        raise ValueError("unterminated quoted field")
    fields.append("".join(buf))
    return fields


def _count_unquoted(line: str, ch: str, quote: str = '"') -> int:
    count, in_quotes = 0, False
    for c in line:
        if c == quote:
            in_quotes = not in_quotes
        elif c == ch and not in_quotes:
            count += 1
    return count


def _content_lines(sample: str) -> list[str]:
    return [ln for ln in sample.splitlines() if ln.strip()]


def detect_delimiter(sample: str, candidates: str = DEFAULT_CANDIDATES) -> str:
    """Prefer a delimiter that appears the same number of times on every line."""
    lines = _content_lines(sample)
    if not lines:
        raise ValueError("empty sample")
    best_consistent: tuple[int, str] | None = None
    best_total: tuple[int, str] | None = None
    for cand in candidates:
        counts = [_count_unquoted(ln, cand) for ln in lines]
        total = sum(counts)
        if counts[0] > 0 and len(set(counts)) == 1:
            if best_consistent is None or counts[0] > best_consistent[0]:
                best_consistent = (counts[0], cand)
        if total > 0 and (best_total is None or total > best_total[0]):
            best_total = (total, cand)
    if best_consistent:
        return best_consistent[1]
    if best_total:
        return best_total[1]
    raise ValueError("no candidate delimiter found")


def _kind(value: str) -> str:
    v = value.strip()
    if _INT_RE.match(v):
        return "int"
    if _FLOAT_RE.match(v):
        return "float"
    if v.lower() in _BOOLS:
        return "bool"
    return "str"


def infer_type(values: Iterable[str]) -> str:
    """Return 'int', 'float', 'bool' or 'str' for a column; blanks are ignored."""
    kinds = {_kind(v) for v in values if v.strip()}
    if not kinds:
        return "str"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"int", "float"}:
        return "float"
    return "str"


def _pad(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def has_header(rows: list[list[str]]) -> bool:
    """True when a typed (non-str) column starts with a value that is plain text."""
    if len(rows) < 2:
        return False
    rows = _pad(rows)
    first, body = rows[0], rows[1:]
    for index, name in enumerate(first):
        kind = infer_type(r[index] for r in body)
        if kind != "str" and name.strip() and _kind(name) == "str":
            return True
    return False


@dataclass
class SniffResult:
    delimiter: str
    has_header: bool
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    row_count: int = 0


def _parse_rows(text: str, delimiter: str) -> list[list[str]]:
    return [split_row(ln, delimiter) for ln in _content_lines(text)]


def sniff(text: str, candidates: str = DEFAULT_CANDIDATES) -> SniffResult:
    """Detect delimiter, header presence, column names and column types."""
    delimiter = detect_delimiter(text, candidates)
    rows = _pad(_parse_rows(text, delimiter))
    header = has_header(rows)
    body = rows[1:] if header else rows
    width = len(rows[0])
    if header:
        columns = [c.strip() for c in rows[0]]
    else:
        columns = [f"col{i + 1}" for i in range(width)]
    types = [infer_type(r[i] for r in body) for i in range(width)]
    return SniffResult(delimiter, header, columns, types, len(body))


def _convert(value: str, kind: str):
    v = value.strip()
    if not v:
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "bool":
        return _BOOLS[v.lower()]
    return value


def read_records(text: str) -> list[dict]:
    """Sniff `text` and return its data rows as dicts of converted values."""
    info = sniff(text)
    rows = _pad(_parse_rows(text, info.delimiter))
    if info.has_header:
        rows = rows[1:]
    return [
        {name: _convert(cell, kind) for name, cell, kind in zip(info.columns, row, info.types)}
        for row in rows
    ]
