"""Context degradation: how much of an app the requirements writer gets to see.

Level 1 is everything (sources with comments and docstrings, plus the README); level 2 strips
comments and docstrings but stays runnable; level 3 keeps only signatures; level 4 is the
gold requirements alone. `degrade_requirements` is the seed augmentation that drops details
from a gold list, optionally followed by a paraphrase callable (an LLM, never called in tests).
"""

from __future__ import annotations

import ast
import io
import random
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from cetd_lib.apps.app import App
from cetd_lib.apps.requirements import format_requirements, normalize_item


class Level(IntEnum):
    FULL = 1
    CODE = 2
    SIGNATURES = 3
    REQUIREMENTS = 4


@dataclass(frozen=True)
class ContextView:
    """What one degradation level shows of an app."""

    app_id: str
    level: Level
    files: dict[str, str]  # module file name -> (degraded) source; empty at level 4
    readme: str | None = None  # level 1 only
    requirements: tuple[str, ...] = ()  # level 4 only

    def render(self) -> str:
        """One prompt string: README, then each module in a fenced block, or the requirements."""
        parts = []
        if self.readme:
            parts.append(f"### README.md\n{self.readme.strip()}")
        for name in sorted(self.files):
            parts.append(f"### src/{name}\n```python\n{self.files[name].rstrip()}\n```")
        if self.requirements:
            parts.append(f"### Requirements\n{format_requirements(self.requirements)}")
        return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Level 2: strip comments (tokenize) and docstrings (ast), keep the rest as written
# ---------------------------------------------------------------------------------------------


def _docstrings(tree: ast.Module) -> list[tuple[ast.Expr, bool]]:
    """(docstring statement, whether removing it leaves a def/class body empty)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and _is_docstring(node.body[0]):
                alone = len(node.body) == 1 and not isinstance(node, ast.Module)
                found.append((node.body[0], alone))
    return found


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _char_col(line: str, byte_col: int) -> int:
    """ast columns count UTF-8 bytes; string slicing needs characters."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def strip_comments_and_docstrings(source: str, filename: str = "<module>") -> str:
    """`source` without comments or docstrings; a def/class body left empty gets `pass`.

    Edits text spans instead of `ast.unparse` so the remaining code keeps its formatting, and
    touches only the edited lines (string literals keep their exact whitespace).
    """
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # ast and tokenize rows agree
    lines: list[str | None] = list(source.split("\n"))
    # (start_row, start_col, end_row, end_col, replacement); rows 1-based, cols in characters
    edits = [
        (*token.start, *token.end, "")
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for doc, alone in _docstrings(ast.parse(source, filename=filename)):
        col = _char_col(lines[doc.lineno - 1], doc.col_offset)
        end_col = _char_col(lines[doc.end_lineno - 1], doc.end_col_offset)
        edits.append((doc.lineno, col, doc.end_lineno, end_col, "pass" if alone else ""))

    edited = set()
    for row, col, end_row, end_col, replacement in sorted(edits, reverse=True):
        lines[row - 1] = lines[row - 1][:col] + replacement + lines[end_row - 1][end_col:]
        lines[row:end_row] = [None] * (end_row - row)  # rows folded into `row`
        edited.add(row - 1)
    kept = []
    for index, line in enumerate(lines):
        if line is None:
            continue
        if index in edited:
            line = line.rstrip()
            if not line:
                continue  # the line held only a comment or a docstring
        kept.append(line)
    stripped = "\n".join(kept).strip("\n")
    stripped = stripped + "\n" if stripped else ""
    ast.parse(stripped, filename=filename)  # a bug here must fail loudly, never ship broken code
    return stripped


# ---------------------------------------------------------------------------------------------
# Level 3: signatures only
# ---------------------------------------------------------------------------------------------


def _ellipsis_body() -> list[ast.stmt]:
    return [ast.Expr(ast.Constant(...))]


def _skeleton_body(body: list[ast.stmt], in_class: bool) -> list[ast.stmt]:
    """Keep imports, assignments, defs (body `...`) and classes (recursively); drop the rest."""
    kept: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            stmt.body = _ellipsis_body()
            kept.append(stmt)
        elif isinstance(stmt, ast.ClassDef):
            stmt.body = _skeleton_body(stmt.body, in_class=True) or _ellipsis_body()
            kept.append(stmt)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            kept.append(stmt)
        elif not in_class and isinstance(stmt, ast.Import | ast.ImportFrom):
            kept.append(stmt)
    return kept


def signatures_only(source: str, filename: str = "<module>") -> str:
    """Defs and classes with decorators and type hints, bodies `...`; imports and assignments."""
    tree = ast.parse(source, filename=filename)
    tree.body = _skeleton_body([s for s in tree.body if not _is_docstring(s)], in_class=False)
    text = ast.unparse(ast.fix_missing_locations(tree))
    return text + "\n" if text else ""


# ---------------------------------------------------------------------------------------------
# Levels -> views
# ---------------------------------------------------------------------------------------------


def degrade(app: App, level: int | Level) -> ContextView:
    """The context an app offers at `level` (1 full, 2 code only, 3 signatures, 4 requirements)."""
    try:
        level = Level(level)
    except ValueError:
        raise ValueError(f"degradation level {level!r} unknown; expected 1, 2, 3 or 4") from None
    if level is Level.FULL:
        return ContextView(app.app_id, level, dict(app.sources), readme=app.readme)
    if level is Level.CODE:
        files = {n: strip_comments_and_docstrings(t, n) for n, t in app.sources.items()}
        return ContextView(app.app_id, level, files)
    if level is Level.SIGNATURES:
        return ContextView(
            app.app_id, level, {n: signatures_only(t, n) for n, t in app.sources.items()}
        )
    return ContextView(app.app_id, level, {}, requirements=app.requirements)


EXTRACTOR_LEVELS = (Level.FULL, Level.CODE, Level.SIGNATURES)


def check_extractor_level(level: int, where: str) -> int:
    """`level` if an extractor may read it; level 4 is refused.

    Level 4 *is* the gold requirements: an extractor trained or evaluated on it copies its
    input, and BLEU or pass rate against gold then measures copying, not extraction.
    """
    if level == Level.REQUIREMENTS:
        raise ValueError(
            f"{where}=4 shows the extractor the gold requirements it should write (it hands "
            "the answer to the model); use 1 (full source), 2 (no comments/docstrings) or "
            "3 (signatures only)"
        )
    if level not in EXTRACTOR_LEVELS:
        raise ValueError(f"{where}={level!r}: expected 1, 2 or 3")
    return level


def render_context(app: App, level: int | Level) -> str:
    """`degrade(app, level)` as one prompt string."""
    return degrade(app, level).render()


# ---------------------------------------------------------------------------------------------
# Seed augmentation: requirements with details missing
# ---------------------------------------------------------------------------------------------


def _clauses(item: str) -> list[str]:
    """Split at ', ' and '; ' outside brackets and backticks (`f(a, b)` is one clause);
    every clause but the last keeps its separator."""
    parts, depth, in_code, start = [], 0, False, 0
    for index, char in enumerate(item):
        if char == "`":
            in_code = not in_code
        elif in_code:
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char in ",;" and depth == 0 and item[index + 1 : index + 2] == " ":
            parts.append(item[start : index + 1])
            start = index + 2
    return [*parts, item[start:]]


def _drop_clause(clauses: list[str], index: int) -> str:
    """The item without clause `index`; dropping the last moves its end punctuation back."""
    if index == len(clauses) - 1:
        ending = clauses[-1][-1] if clauses[-1][-1] in ".!?" else ""
        return " ".join([*clauses[:-2], clauses[-2][:-1] + ending])
    return " ".join(clauses[:index] + clauses[index + 1 :])


def degrade_requirements(
    items: Sequence[str],
    rate: float = 0.3,
    seed: int = 0,
    *,
    paraphrase: Callable[[str], str] | None = None,
) -> list[str]:
    """Drop details from a gold list: each item, with probability `rate`, loses one clause
    (when it has several) or is dropped whole (when it has one). At least one item survives.

    `paraphrase`, when given, rewrites every surviving item (e.g. an LLM call); it must return
    non-empty text.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate={rate} must lie in [0, 1]")
    rng = random.Random(seed)
    items = [text for text in map(normalize_item, items) if text]
    kept: list[str] = []
    for item in items:
        if rng.random() >= rate:
            kept.append(item)
            continue
        clauses = _clauses(item)
        if len(clauses) > 1:  # the first clause names the subject: never drop it
            kept.append(_drop_clause(clauses, rng.randrange(1, len(clauses))))
    if not kept and items:
        kept = [items[rng.randrange(len(items))]]
    if paraphrase is None:
        return kept
    rewritten = []
    for item in kept:
        text = paraphrase(item)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"paraphrase returned {text!r} for {item!r}; expected non-empty text")
        rewritten.append(normalize_item(text))
    return rewritten
