"""The trusted-comparison pass on pytest's rewritten asserts (`_comparisons.apply`, issue 27).

The pass runs after pytest's assertion rewriting and skips pytest's failure branches (what
runs once an assert has failed). These tests hold it to: every comparison that decides an
outcome is strict, wherever pytest put it (the operands of `and`/`or`, each link of a chain,
`not`, comprehensions), and honest code still passes.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import rewrite_asserts

import cetd_lib.sandbox
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.sandbox.runner import run_app_tests

_PATH = Path(cetd_lib.sandbox.__file__).parent / "_comparisons.py"
_spec = importlib.util.spec_from_file_location("cetd_comparisons_under_test", _PATH)
comparisons = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(comparisons)

ASSERTS = {
    "single": "assert f(1) == 1",
    "or, second operand": "assert f(1) == 99 or f(2) == 4",
    "and, second operand": "assert 1 == 1 and f(2) == 4",
    "chain": "assert 0 < f(2) < 5",
    "not": "assert not f(1) != 1",
    "comprehension": "assert all(f(i) == i * i for i in range(3))",
    "membership": "assert f(2) in [4]",
    "with a message": "assert f(3) == 9, f'got {f(3)}'",
    "outside an assert": "ok = f(1) == 1\n    assert ok",
}
# No bytecode store on disk: the pass under test must be the one that rewrites the tests.
CONFIG = HarnessConfig(cache=False, workers=1, bytecode_cache_path="")


def wrapped_operands(statement: str) -> int:
    source = f"from m import f\n\ndef test_x():\n    {statement}\n".encode()
    tree = ast.parse(source)
    rewrite_asserts(tree, source, "/sandbox/tests/test_x.py", None)
    comparisons.apply(tree)
    compile(tree, "/sandbox/tests/test_x.py", "exec")  # locations are valid
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == comparisons.STRICT_NAME
    )


@pytest.mark.parametrize("name", list(ASSERTS))
def test_every_deciding_comparison_is_wrapped(name):
    # In an assert each watched comparison has two non-literal operands once pytest has
    # rewritten it (it names literals too): two per comparison that decides, none for the
    # failure branches; outside an assert the literal stays as it is.
    deciding = {"or, second operand": 2, "and, second operand": 2, "chain": 2}.get(name, 1)
    expected = 1 if name == "outside an assert" else 2 * deciding
    assert wrapped_operands(ASSERTS[name]) == expected


def test_always_equal_fails_everywhere_and_honest_code_passes():
    tests = "from m import f\n\n" + "".join(
        f"def test_{i}():\n    {statement}\n\n" for i, statement in enumerate(ASSERTS.values())
    )
    lying = (
        "class Liar(int):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __lt__(self, other): return True\n"
        "    def __gt__(self, other): return True\n"
        "    __hash__ = int.__hash__\n"
        "def f(x):\n    return Liar(-7)\n"
    )
    honest = "def f(x):\n    return x * x\n"
    lied = run_app_tests({"m.py": lying}, {"test_m.py": tests}, config=CONFIG)
    assert lied.pass_rate == 0.0, {k: v.outcome for k, v in lied.per_test.items() if v.passed}
    truthful = run_app_tests({"m.py": honest}, {"test_m.py": tests}, config=CONFIG)
    assert truthful.pass_rate == 1.0, {k: v.detail for k, v in truthful.per_test.items()}
