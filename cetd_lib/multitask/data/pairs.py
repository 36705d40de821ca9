"""Code <-> test pairs in both directions, conditioned on a test-type token.

Sources: the apps' and HumanEval's pytest functions (`<unit>` or `<parametrized>`), and
hypothesis property tests (`<property>`) generated from templates for suitably typed functions
and kept only when they pass in the sandboxed runner on the original code, and
`pytest.mark.parametrize` tests (`<parametrized>`) folded from HumanEval's simple per-assert
tests, kept only when every case passes in the sandbox on the canonical solution.
"""

from __future__ import annotations

import ast
import builtins
import random
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cetd_lib.apps.app import App
from cetd_lib.multitask.data.config import MultitaskDataConfig
from cetd_lib.multitask.data.corpus import Skipped, split_for_group

TEST_TYPES = ("<unit>", "<property>", "<parametrized>")
DIRECTIONS = ("code_to_test", "test_to_code")


def test_type(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """`<property>` for hypothesis `@given`, `<parametrized>` for `@pytest.mark.parametrize`,
    else `<unit>`."""
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = ast.unparse(target)
        if name.split(".")[-1] == "given":
            return "<property>"
        if name.endswith("parametrize"):
            return "<parametrized>"
    return "<unit>"


@dataclass(frozen=True)
class TestCase:
    """One test function with the module header (imports, fixtures' names) it needs to read."""

    __test__ = False  # not a pytest class

    test_id: str  # "<test file>::<function>"
    test_type: str
    text: str


def _is_test(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and (
        node.name.startswith(("test", "Test"))
    )


def _header_node(node: ast.stmt) -> bool:
    """What a single test needs from its file: imports, constants, aliases (`candidate = f`),
    helpers and fixtures. Not other tests, the module docstring or a `__main__` guard."""
    if _is_test(node):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False
    return not (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test))


def _segment(source: str, node: ast.stmt) -> str:
    """The node's source, decorators included (get_source_segment starts at `def`)."""
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        lines = source.splitlines()
        return "\n".join(lines[min(d.lineno for d in decorators) - 1 : node.end_lineno])
    return ast.get_source_segment(source, node, padded=False) or ast.unparse(node)


def test_cases(test_file: str, source: str) -> list[TestCase]:
    """Every top-level `test_*` function of a pytest file, each with the rest of the file's
    module-level code it may use (`_header_node`), so the case runs on its own: with imports
    alone, HumanEval's `candidate = entry_point` alias and the apps' helpers and fixtures were
    missing and 0/1133 HumanEval and 132/544 app cases failed on their own reference code."""
    tree = ast.parse(source)
    header = "\n\n\n".join(_segment(source, node) for node in tree.body if _header_node(node))
    cases = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            body = _segment(source, node)
            text = f"{header}\n\n\n{body}\n" if header else f"{body}\n"
            cases.append(TestCase(f"{test_file}::{node.name}", test_type(node), text))
    return cases


def _render_code(sources: Mapping[str, str]) -> str:
    """Several modules as one text, each under a `# file: name` line."""
    return "\n".join(f"# file: {name}\n{text.rstrip()}\n" for name, text in sorted(sources.items()))


def pair_records(
    group: str, origin: str, sources: Mapping[str, str], case: TestCase
) -> list[dict[str, Any]]:
    """The two directions of one (code, test) pair; the input starts with the test-type token."""
    code = _render_code(sources)
    base = {"group": group, "origin": origin, "test_id": case.test_id, "test_type": case.test_type}
    return [
        {
            **base,
            "direction": "code_to_test",
            "input": f"{case.test_type}\n{code}",
            "target": case.text,
        },
        {
            **base,
            "direction": "test_to_code",
            "input": f"{case.test_type}\n{case.text}",
            "target": code,
        },
    ]


def app_pairs(app: App, origin: str) -> list[dict[str, Any]]:
    """Pairs for every test function of an app against all its modules (tests import by name)."""
    out = []
    for test_file, text in sorted(app.tests.items()):
        for case in test_cases(test_file, text):
            out += pair_records(app.app_id, origin, app.sources, case)
    return out


# ---------------------------------------------------------------------------------------------
# Generated hypothesis property tests
# ---------------------------------------------------------------------------------------------

# Strategies by annotation; bounded so a generated test stays fast in the sandbox.
STRATEGIES = {
    "int": "st.integers(min_value=-1000, max_value=1000)",
    "str": "st.text(max_size=20)",
    "bool": "st.booleans()",
    "float": "st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)",
    "bytes": "st.binary(max_size=32)",
    "list[int]": "st.lists(st.integers(min_value=-100, max_value=100), max_size=10)",
    "List[int]": "st.lists(st.integers(min_value=-100, max_value=100), max_size=10)",
    "list[str]": "st.lists(st.text(max_size=8), max_size=8)",
    "List[str]": "st.lists(st.text(max_size=8), max_size=8)",
    "list[float]": "st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=10)",
    "List[float]": "st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=10)",
}
_RETURN_CHECK = {
    "int": "int",
    "str": "str",
    "bool": "bool",
    "float": "(int, float)",
    "bytes": "bytes",
    "list[int]": "list",
    "List[int]": "list",
    "list[str]": "list",
    "List[str]": "list",
}
# Name pairs that suggest inverse functions (round trip f⁻¹(f(x)) == x).
_INVERSE_PREFIXES = (
    ("encode", "decode"),
    ("encrypt", "decrypt"),
    ("compress", "decompress"),
    ("serialize", "deserialize"),
    ("dumps", "loads"),
    ("to_", "from_"),
    ("pack", "unpack"),
    ("escape", "unescape"),
    ("quote", "unquote"),
)


@dataclass(frozen=True)
class PropertyCandidate:
    """A generated property test for one module, not yet validated."""

    template: str  # round_trip | idempotence | return_type
    functions: tuple[str, ...]
    test_name: str
    text: str  # the test function (without the file header)


def _signature(node: ast.FunctionDef) -> tuple[list[str], str | None] | None:
    """Annotations of the positional parameters and the return, if all are strategy-able."""
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or not args.args:
        return None
    if args.args[0].arg in ("self", "cls"):
        return None
    annotations = [ast.unparse(a.annotation) if a.annotation else "" for a in args.args]
    if any(a not in STRATEGIES for a in annotations):
        return None
    returns = ast.unparse(node.returns) if node.returns else None
    return annotations, returns


def _decorated_test(
    name: str, strategies: Sequence[str], params: str, body: str, max_examples: int
) -> str:
    return (
        f"@settings(max_examples={max_examples}, deadline=None, database=None)\n"
        f"@given({', '.join(strategies)})\n"
        f"def {name}({params}):\n{textwrap.indent(body, '    ')}\n"
    )


def property_candidates(module_source: str, max_examples: int) -> list[PropertyCandidate]:
    """Templates over the module's top-level functions with simple annotated signatures:

    - round_trip: g(f(x)) == x for name pairs like encode/decode, to_x/from_x;
    - idempotence: f(f(x)) == f(x) for f: T -> T;
    - return_type: isinstance(f(*xs), R) for an annotated simple return type R.
    Most candidates are plausible, not true; the sandbox run decides which are kept.
    """
    tree = ast.parse(module_source)
    funcs = {
        n.name: n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
    }
    sigs = {name: s for name, n in funcs.items() if (s := _signature(n)) is not None}
    out = []
    for name, (params, returns) in sorted(sigs.items()):
        names = [f"x{i}" for i in range(len(params))]
        strategies = [STRATEGIES[p] for p in params]
        call = f"{name}({', '.join(names)})"
        if returns in _RETURN_CHECK:
            out.append(
                PropertyCandidate(
                    "return_type",
                    (name,),
                    f"test_{name}_return_type",
                    _decorated_test(
                        f"test_{name}_return_type",
                        strategies,
                        ", ".join(names),
                        f"assert isinstance({call}, {_RETURN_CHECK[returns]})",
                        max_examples,
                    ),
                )
            )
        if len(params) == 1 and returns == params[0]:
            out.append(
                PropertyCandidate(
                    "idempotence",
                    (name,),
                    f"test_{name}_idempotent",
                    _decorated_test(
                        f"test_{name}_idempotent",
                        strategies,
                        "x0",
                        f"once = {name}(x0)\nassert {name}(once) == once",
                        max_examples,
                    ),
                )
            )
        for forward, backward in _INVERSE_PREFIXES:
            if name.startswith(forward) and len(params) == 1:
                inverse = backward + name[len(forward) :]
                if inverse in funcs:
                    out.append(
                        PropertyCandidate(
                            "round_trip",
                            (name, inverse),
                            f"test_{name}_round_trip",
                            _decorated_test(
                                f"test_{name}_round_trip",
                                strategies,
                                "x0",
                                f"assert {inverse}({name}(x0)) == x0",
                                max_examples,
                            ),
                        )
                    )
    return out


def property_test_file(module: str, candidates: Sequence[PropertyCandidate]) -> str:
    """A pytest file holding every candidate for one module (one sandbox job per module)."""
    names = sorted({f for c in candidates for f in c.functions})
    header = (
        "from hypothesis import given, settings\n"
        "from hypothesis import strategies as st\n\n"
        f"from {module} import {', '.join(names)}\n"
    )
    return header + "".join(f"\n\n{c.text}" for c in candidates)


def property_case(module: str, candidate: PropertyCandidate) -> TestCase:
    """A validated candidate as a stand-alone test case (its own imports only)."""
    text = property_test_file(module, [candidate])
    return TestCase(f"test_property_{module}.py::{candidate.test_name}", "<property>", text)


# ---------------------------------------------------------------------------------------------
# Generated `pytest.mark.parametrize` tests from HumanEval's per-assert tests
# ---------------------------------------------------------------------------------------------

PARAMETRIZED_FILE = "test_parametrized_solution.py"
_BUILTIN_NAMES = frozenset(dir(builtins))


def _entry_point(tree: ast.Module) -> str | None:
    """The first name of `from solution import <entry_point>, ...` (the adapter's header)."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "solution" and node.names:
            return node.names[0].name
    return None


def _simple_assert(
    func: ast.FunctionDef, callees: frozenset[str]
) -> tuple[list[ast.expr], ast.expr] | None:
    """(args, expected) when the test is exactly `assert f(<args>) == <expected>`: no setup,
    positional args only, and args/expected use no names but builtins (they move to the
    decorator, evaluated at import time)."""
    if len(func.body) != 1 or func.decorator_list or not isinstance(func.body[0], ast.Assert):
        return None
    test = func.body[0].test
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.left, ast.Call)
        and isinstance(test.left.func, ast.Name)
        and test.left.func.id in callees
        and not test.left.keywords
        and not any(isinstance(a, ast.Starred) for a in test.left.args)
    ):
        return None
    args, expected = test.left.args, test.comparators[0]
    for part in [*args, expected]:
        names = {n.id for n in ast.walk(part) if isinstance(n, ast.Name)}
        if not names <= _BUILTIN_NAMES or any(
            isinstance(n, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom)
            for n in ast.walk(part)
        ):
            return None
    return args, expected


def parametrize_rows(test_source: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The entry point and `(args tuple, expected)` source pairs of every simple-shaped test."""
    tree = ast.parse(test_source)
    entry = _entry_point(tree)
    if entry is None:
        return None, []
    callees = frozenset({"candidate", entry})
    rows = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            found = _simple_assert(node, callees)
            if found is not None:
                args, expected = found
                rows.append(
                    (ast.unparse(ast.Tuple(elts=args, ctx=ast.Load())), ast.unparse(expected))
                )
    return entry, rows


def parametrized_test_file(entry_point: str, rows: Sequence[tuple[str, str]]) -> str:
    """One `@pytest.mark.parametrize("args, expected", [...])` test over all rows."""
    body = "".join(f"        ({args}, {expected}),\n" for args, expected in rows)
    return (
        "import pytest\n\n"
        f"from solution import {entry_point}\n\n\n"
        "@pytest.mark.parametrize(\n"
        '    "args, expected",\n'
        f"    [\n{body}    ],\n"
        ")\n"
        f"def test_{entry_point}(args, expected):\n"
        f"    assert {entry_point}(*args) == expected\n"
    )


@dataclass(frozen=True)
class ParametrizedCandidate:
    """A generated parametrized test file for one HumanEval problem, not yet validated."""

    app: App
    entry_point: str
    n_rows: int
    text: str


def parametrized_candidate(app: App, min_rows: int = 2) -> ParametrizedCandidate | str:
    """The candidate, or the reason the app is skipped (fewer than `min_rows` simple asserts)."""
    from cetd_lib.apps.humaneval import TEST_FILE

    if TEST_FILE not in app.tests:
        return f"parametrized: no {TEST_FILE}"
    entry, rows = parametrize_rows(app.tests[TEST_FILE])
    if entry is None or len(rows) < min_rows:
        return f"parametrized: {len(rows)} assert(s) of shape `assert f(<args>) == <expected>`"
    return ParametrizedCandidate(app, entry, len(rows), parametrized_test_file(entry, rows))


def parametrized_pairs(
    apps: Sequence[App],
    cfg: MultitaskDataConfig,
    run: Callable[..., Sequence[Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[Skipped], dict[str, int]]:
    """`<parametrized>` pairs (both directions) for HumanEval apps, each with its group's split.

    Candidates come from the adapter's per-assert tests; a seeded sample of at most
    `cfg.parametrized_max_problems` is run in the sandbox (`run_many`, one job per problem) on
    the canonical solution, and a file is kept only if every parametrized case passes. Apps that
    do not fit the shape or fail validation are returned as `Skipped` (reason given).
    """
    if run is None:
        from cetd_lib.sandbox.runner import run_many as run
    fractions = (cfg.train_fraction, cfg.val_fraction, cfg.test_fraction)
    stats: Counter[str] = Counter()
    skipped: list[Skipped] = []
    suitable: list[ParametrizedCandidate] = []
    for app in sorted(apps, key=lambda a: a.app_id):
        found = parametrized_candidate(app)
        if isinstance(found, str):
            stats["skipped/shape"] += 1
            skipped.append(Skipped(f"humaneval/{app.app_id}/{PARAMETRIZED_FILE}", found))
        else:
            suitable.append(found)
    random.Random(f"{cfg.seed}:parametrized").shuffle(suitable)
    if cfg.parametrized_max_problems is not None:
        stats["not_sampled"] = max(0, len(suitable) - cfg.parametrized_max_problems)
        suitable = suitable[: cfg.parametrized_max_problems]
    jobs = [(dict(c.app.sources), {PARAMETRIZED_FILE: c.text}) for c in suitable]
    results = run(jobs) if jobs else []
    out: list[dict[str, Any]] = []
    for candidate, result in zip(suitable, results, strict=True):
        stats["candidates"] += 1
        outcomes = list(result.per_test.values())
        if (
            result.status != "ok"
            or len(outcomes) != candidate.n_rows
            or not all(o.passed for o in outcomes)
        ):
            stats["skipped/failed"] += 1
            passed = sum(o.passed for o in outcomes)
            reason = (
                f"parametrized: {passed}/{candidate.n_rows} cases passed on the canonical "
                f"solution (status {result.status})"
            )
            skipped.append(Skipped(f"humaneval/{candidate.app.app_id}/{PARAMETRIZED_FILE}", reason))
            continue
        stats["kept"] += 1
        stats["kept_cases"] += candidate.n_rows
        group = candidate.app.app_id
        split = split_for_group(group, cfg.split_seed, fractions)
        for case in test_cases(PARAMETRIZED_FILE, candidate.text):
            out += [
                {**r, "split": split}
                for r in pair_records(group, "generated", candidate.app.sources, case)
            ]
    return out, skipped, dict(sorted(stats.items()))
