"""Code <-> test pairs in both directions, conditioned on a test-type token.

Sources: the apps' and HumanEval's pytest functions (`<unit>` or `<parametrized>`), and
hypothesis property tests (`<property>`) generated from templates for suitably typed functions
and kept only when they pass in the sandboxed runner on the original code.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cetd_lib.data import App

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


def test_cases(test_file: str, source: str) -> list[TestCase]:
    """Every top-level `test_*` function of a pytest file, each with the file's imports."""
    tree = ast.parse(source)
    imports = "\n".join(
        ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
    )
    cases = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            body = ast.get_source_segment(source, node, padded=False) or ast.unparse(node)
            if node.decorator_list:  # get_source_segment starts at `def`, not the decorators
                lines = source.splitlines()
                first = min(d.lineno for d in node.decorator_list)
                body = "\n".join(lines[first - 1 : node.end_lineno])
            text = f"{imports}\n\n\n{body}\n" if imports else f"{body}\n"
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
