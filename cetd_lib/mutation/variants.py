"""Behaviour-preserving variants of a module: the same program in another text.

A suite that passes on the module but fails on one of these tests the source text, not the
behaviour, and is *source-coupled* (`SOURCE_COUPLED`): it scores 0 (see `score`).
"""

from __future__ import annotations

import ast
import base64
import random
import zlib

from cetd_lib.mutation.mutants import is_docstring

# ---------------------------------------------------------------------------------------------
# Behaviour-preserving variants: the same program in another text
# ---------------------------------------------------------------------------------------------

SOURCE_COUPLED = "SOURCE_COUPLED"  # failure class of a suite that fails on a variant
_DYNAMIC_SCOPE = frozenset({"locals", "vars", "eval", "exec", "dir", "globals"})
_FUNCTIONS = ast.FunctionDef | ast.AsyncFunctionDef


def _all_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, _FUNCTIONS | ast.ClassDef):
            names.add(node.name)
    return names


def _own_stores(function: ast.AST) -> set[str]:
    """Names the function itself binds with `=`/`for`/`with`/walrus (not in nested scopes)."""
    stores: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _FUNCTIONS | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                stores.add(child.id)
            visit(child)

    visit(function)
    return stores


def _unrenamable(function: ast.AST) -> set[str]:
    """Names that must keep their spelling anywhere under `function`: parameters (callers may
    pass them by keyword), global/nonlocal declarations, def/class/import/except/match names
    (bound by strings, not Name nodes)."""
    keep: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.arg):
            keep.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            keep.update(node.names)
        elif isinstance(node, _FUNCTIONS):
            keep.add(node.name)
        elif isinstance(node, ast.ClassDef):
            keep.add(node.name)
            keep |= _own_stores(node)  # class attributes: renaming them changes the class
        elif isinstance(node, ast.alias):
            keep.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            keep.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            keep.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            keep.add(node.rest)
    return keep


def _rename_locals(tree: ast.Module, suffix: str) -> None:
    """Give every local of every function a new name (`total` -> `total_v1`), consistently in
    the function and the scopes nested in it. Functions calling locals()/vars()/eval/exec/dir
    are left alone: they can see their locals' names."""
    taken = _all_names(tree)
    for function in [n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)]:
        calls = {
            n.func.id
            for n in ast.walk(function)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        if calls & _DYNAMIC_SCOPE:
            continue
        mapping = {}
        for name in sorted(_own_stores(function) - _unrenamable(function)):
            new = f"{name}_{suffix}"
            while new in taken:
                new += "_"
            taken.add(new)
            mapping[name] = new
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and node.id in mapping:
                node.id = mapping[node.id]


def _replace_docstrings(tree: ast.Module, text: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | _FUNCTIONS) and node.body:
            if is_docstring(node.body[0]):
                node.body[0] = ast.Expr(ast.Constant(text))


def _order_free(run: list[ast.stmt]) -> bool:
    """No redefinition in the run, and no default or annotation (evaluated at def time) names
    a function of the run."""
    names = {f.name for f in run}
    if len(names) < len(run):
        return False
    for function in run:
        evaluated = [*function.args.defaults, *filter(None, function.args.kw_defaults)]
        evaluated += [a.annotation for a in ast.walk(function.args) if isinstance(a, ast.arg)]
        evaluated.append(function.returns)
        for expr in filter(None, evaluated):
            if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(expr)):
                return False
    return True


def _reorder_functions(body: list[ast.stmt], rng: random.Random) -> None:
    """Shuffle each run of consecutive undecorated defs (a run is order-free: nothing runs
    between its definitions); recurse into class bodies."""
    start = 0
    while start < len(body):
        end = start
        while (
            end < len(body) and isinstance(body[end], _FUNCTIONS) and not body[end].decorator_list
        ):
            end += 1
        run = body[start:end]
        if len(run) > 1 and _order_free(run):
            rotation = 1 + rng.randrange(len(run) - 1)  # never the original order
            body[start:end] = run[rotation:] + run[:rotation]
        start = max(end, start + 1)
    for node in body:
        if isinstance(node, ast.ClassDef):
            _reorder_functions(node.body, rng)


def _hidden(source: str) -> str:
    """`source` run by `exec` from a zlib+base64 payload: the module behaves the same, but its
    file holds none of the code's text (`inspect.getsource` fails, reading the file gives the
    payload)."""
    payload = base64.b64encode(zlib.compress(source.encode())).decode()
    return (
        '"""A behaviour-preserving variant: the module\'s code, compressed."""\n'
        "import base64 as _cetd_base64, zlib as _cetd_zlib\n"
        "exec(compile(_cetd_zlib.decompress(_cetd_base64.b64decode(\n"
        f"    {payload!r}\n"
        ')).decode(), __file__, "exec", dont_inherit=True))\n'
        "del _cetd_base64, _cetd_zlib\n"
    )


def equivalent_variants(source: str, module: str, k: int, seed: int = 0) -> list[str]:
    """k variants of `source` with its behaviour and a different text: reformatted
    (ast.unparse: comments and layout gone), locals renamed, docstrings replaced, runs of
    functions reordered; odd-numbered variants also hide the code behind a compressed `exec`.
    Deterministic in `seed` (stable harness cache keys)."""
    variants = []
    for index in range(k):
        tree = ast.parse(source, filename=module)
        rng = random.Random(f"{seed}:{index}")
        _rename_locals(tree, f"v{index + 1}")
        _replace_docstrings(tree, f"Documentation, variant {index + 1}.")
        _reorder_functions(tree.body, rng)
        text = f"# behaviour-preserving variant {index + 1}\n" + ast.unparse(tree) + "\n"
        variants.append(_hidden(text) if index % 2 else text)
    return variants
