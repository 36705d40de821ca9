"""Line diffs built on the LCS table, plus unified-style rendering."""
from __future__ import annotations

from dataclasses import dataclass, field

from lcs import suffix_table

EQUAL, DELETE, INSERT = "equal", "delete", "insert"
_PREFIX = {EQUAL: " ", DELETE: "-", INSERT: "+"}


@dataclass(frozen=True)
class DiffOp:
    tag: str
    line: str

    def render(self) -> str:
        return _PREFIX[self.tag] + self.line


def _regroup(ops: list[DiffOp]) -> list[DiffOp]:
    """Within every run of changes, emit all deletions before insertions."""
    out: list[DiffOp] = []
    dels: list[DiffOp] = []
    ins: list[DiffOp] = []
    for op in ops + [DiffOp(EQUAL, "")]:
        if op.tag == DELETE:
            dels.append(op)
        elif op.tag == INSERT:
            ins.append(op)
        else:
            out.extend(dels)
            out.extend(ins)
            dels, ins = [], []
            out.append(op)
    return out[:-1]


def diff_lines(a: list[str], b: list[str]) -> list[DiffOp]:
    table = suffix_table(a, b)
    ops: list[DiffOp] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and j < len(b) and a[i] == b[j]:
            ops.append(DiffOp(EQUAL, a[i]))
            i += 1
            j += 1
        elif j >= len(b) or (i < len(a) and table[i + 1][j] >= table[i][j + 1]):
            ops.append(DiffOp(DELETE, a[i]))
            i += 1
        else:
            ops.append(DiffOp(INSERT, b[j]))
            j += 1
    return _regroup(ops)


def diff_stats(ops: list[DiffOp]) -> dict[str, int]:
    stats = {"added": 0, "removed": 0, "unchanged": 0}
    key = {INSERT: "added", DELETE: "removed", EQUAL: "unchanged"}
    for op in ops:
        stats[key[op.tag]] += 1
    return stats


@dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    ops: list[DiffOp] = field(default_factory=list)

    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"

    def lines(self) -> list[str]:
        return [self.header()] + [op.render() for op in self.ops]


def make_hunks(ops: list[DiffOp], context: int = 3) -> list[Hunk]:
    if context < 0:
        raise ValueError("context must be >= 0")
    changes = [k for k, op in enumerate(ops) if op.tag != EQUAL]
    if not changes:
        return []
    # group change positions whose separating run of equal lines is <= 2*context
    groups: list[list[int]] = [[changes[0]]]
    for k in changes[1:]:
        if k - groups[-1][-1] - 1 <= 2 * context:
            groups[-1].append(k)
        else:
            groups.append([k])

    # old/new line counts consumed before each op index
    old_before = [0]
    new_before = [0]
    for op in ops:
        old_before.append(old_before[-1] + (op.tag != INSERT))
        new_before.append(new_before[-1] + (op.tag != DELETE))

    hunks = []
    for group in groups:
        lo = max(0, group[0] - context)
        hi = min(len(ops), group[-1] + context + 1)
        old_count = old_before[hi] - old_before[lo]
        new_count = new_before[hi] - new_before[lo]
        old_start = old_before[lo] + (1 if old_count else 0)
        new_start = new_before[lo] + (1 if new_count else 0)
        hunks.append(Hunk(old_start, old_count, new_start, new_count, ops[lo:hi]))
    return hunks


def unified_diff(a: list[str], b: list[str], from_name: str = "a", to_name: str = "b", context: int = 3) -> str:
    hunks = make_hunks(diff_lines(a, b), context)
    if not hunks:
        return ""
    out = [f"--- {from_name}", f"+++ {to_name}"]
    for hunk in hunks:
        out.extend(hunk.lines())
    return "\n".join(out) + "\n"


def diff_texts(old: str, new: str, context: int = 3) -> str:
    """Convenience wrapper: split both texts into lines and diff them."""
    return unified_diff(old.splitlines(), new.splitlines(), context=context)
