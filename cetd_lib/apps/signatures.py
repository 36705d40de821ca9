"""An app's public signatures as requirement items: what the tests import, and nothing else.

The original tests import functions and classes by name, so a rebuild whose names are wrong
fails whatever the rest of the list says. A reward or calibration that compares "gold" with
"another app's gold" therefore partly measures *were the names given*. `signature_items` is
that part alone, the control every content measurement is taken against (issue 29):

- HumanEval apps: gold's own signature and helper-definition items (`humaneval.
  gold_requirements` writes them first, as ``"`solution.py` defines the function `f(x)`."``);
- other apps: one item per public definition the tests import, rendered as at context level 3
  (`degrade.signatures_only`: def lines with type hints, a class with its attributes and
  method signatures, a constant with its value), joined on one line.

`split_signature_items` separates a gold list into the items that only name the API and the
rest. This module does not judge whether the names are *enough*; the calibration measures it.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence

from cetd_lib.apps.app import App
from cetd_lib.apps.degrade import signatures_only
from cetd_lib.apps.requirements import normalize_item

_DEFINES = ("` defines the function `", "` also defines the helper `")


def is_signature_item(item: str, module_names: Sequence[str]) -> bool:
    """Whether `item` only states a definition's signature, in the form HumanEval gold uses:
    ``"`solution.py` defines the function `f(x: int) -> int`."``"""
    return any(item.startswith(f"`{module}{kind}") for module in module_names for kind in _DEFINES)


def split_signature_items(items: Sequence[str], app: App) -> tuple[list[str], list[str]]:
    """(signature items, the other items) of `items`, each in their original order."""
    names = app.module_names
    signature = [item for item in items if is_signature_item(item, names)]
    return signature, [item for item in items if not is_signature_item(item, names)]


def imported_names(app: App) -> dict[str, list[str] | None]:
    """module file name -> names the tests import from it (`from m import a, b`), in order of
    first import; None when a test imports the whole module (`import m`: every public name)."""
    stems = {name.removesuffix(".py"): name for name in app.module_names}
    found: dict[str, list[str] | None] = {}
    for text in app.tests.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module in stems and node.level == 0:
                file = stems[node.module]
                if found.get(file, []) is not None:
                    names = found.setdefault(file, [])
                    names += [a.name for a in node.names if a.name not in names]  # type: ignore[union-attr]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in stems:
                        found[stems[alias.name]] = None
    return found


def _rendered(node: ast.stmt) -> str:
    """One definition of a level-3 skeleton on one line: `def f(x: int) -> str`, `class C(B)
    with x: int; def m(self, y)`, `LIMIT = 3`."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        decorators = "".join(f"@{ast.unparse(d)} " for d in node.decorator_list)
        body = node.body if isinstance(node, ast.ClassDef) else []
        bare = copy.copy(node)
        bare.decorator_list, bare.body = [], [ast.Expr(ast.Constant(...))]
        head = decorators + ast.unparse(bare).split("\n", 1)[0].removesuffix(":")
        if not isinstance(node, ast.ClassDef):
            return head
        members = [_rendered(s) for s in body if not _is_ellipsis(s) and not _private(s)]
        return f"{head} with {'; '.join(members)}" if members else head
    return normalize_item(ast.unparse(node))


def _private(stmt: ast.stmt) -> bool:
    """A `_helper` method: not part of the API the tests use (dunders are)."""
    name = getattr(stmt, "name", "")
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_ellipsis(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and getattr(stmt.value, "value", None) is Ellipsis


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def rendered_public_definitions(app: App) -> list[str]:
    """One item per definition the tests import, from the level-3 skeleton of its module:
    ``"`lexer.py` defines `def tokenize(source: str) -> list[Token]`."``"""
    items = []
    for file, names in sorted(imported_names(app).items()):
        skeleton = ast.parse(signatures_only(app.sources[file], file))
        for node in skeleton.body:
            defined = _defined_names(node)
            wanted = (
                [n for n in defined if not n.startswith("_")]
                if names is None
                else [n for n in defined if n in names]
            )
            if wanted:
                items.append(normalize_item(f"`{file}` defines `{_rendered(node)}`."))
    return items


def public_api(app: App) -> dict[str, str]:
    """module file name -> the level-3 skeleton of what the tests import from it: the module's
    imports, then each imported definition with `...` bodies (private methods left out).
    What the `reconstruct-v2` prompt shows the orchestra for every sample alike."""
    out = {}
    for file, names in sorted(imported_names(app).items()):
        skeleton = ast.parse(signatures_only(app.sources[file], file))
        kept: list[ast.stmt] = []
        for node in skeleton.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                kept.append(node)
                continue
            defined = _defined_names(node)
            public = [n for n in defined if not n.startswith("_")]
            if (names is None and public) or (names is not None and set(defined) & set(names)):
                if isinstance(node, ast.ClassDef):
                    node.body = [s for s in node.body if not _private(s)] or [
                        ast.Expr(ast.Constant(...))
                    ]
                kept.append(node)
        if any(not isinstance(n, ast.Import | ast.ImportFrom) for n in kept):
            _hide_assigned_values(kept)
            out[file] = ast.unparse(ast.Module(body=kept, type_ignores=[])) + "\n"
    return out


def _hide_assigned_values(nodes: list[ast.stmt]) -> None:
    """`LIMIT = 42` -> `LIMIT = ...`, at module and class level: a constant's name is API, its
    value is content (a test may assert it), so the prompt shows the one and not the other."""
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            node.value = ast.Constant(...)
        elif isinstance(node, ast.ClassDef):
            _hide_assigned_values(node.body)


def signature_items(app: App) -> list[str]:
    """The app's signature-only requirement list (see the module docstring): gold's signature
    items when it has them (HumanEval), else the rendered public definitions its tests import.
    Never empty for an app whose tests import anything from its sources."""
    own, _ = split_signature_items(app.requirements, app)
    return own or rendered_public_definitions(app)
