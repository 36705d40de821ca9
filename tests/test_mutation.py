"""Mutation engine: operators, equivalent/duplicate pruning, kills through the sandbox."""

from __future__ import annotations

import ast

import pytest

from cetd_lib.langpack import get_language_pack
from cetd_lib.mutation import (
    OPERATORS,
    MutationConfig,
    generate_mutants,
    mutant_timeout_s,
    mutation_score,
)
from cetd_lib.sandbox.config import HarnessConfig

NO_CACHE = HarnessConfig(cache=False)
# The static screen catches every suite below first (REWARD_HACK_SUSPECT); with it off, the
# behaviour-preserving variants are tested on their own, as the layer the screen cannot replace.
UNSCREENED = HarnessConfig(cache=False, screen=False)
MODULE = '''"""Small helpers: the docstring is never mutated."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    LIMIT = 10


def is_even(n):
    """True for even n."""
    return n % 2 == 0


def clamp(x, lo, hi):
    if not lo <= hi:
        raise ValueError("empty range")
    return min(max(x, lo), hi)
'''


def test_operators_cover_the_issue_list():
    source = "def f(a, b, s):\n    if a and s == '':\n        a += 1\n    return a < b\n"
    both = generate_mutants(MODULE, "util.py") + generate_mutants(source, "f.py")
    assert {m.operator for m in both} == set(OPERATORS)
    by_desc = {m.description: m.source for m in generate_mutants(source, "f.py")}
    assert any(d.startswith("+ -> -") for d in by_desc)  # also in `a += 1`
    assert "and -> or in `a and s == ''`" in by_desc
    assert "'' -> 'x'" in by_desc and "1 -> 0" in by_desc
    assert "`return a < b` -> `return None`" in by_desc
    assert "return not a < b" in by_desc["`return a < b` -> `return not (...)`"]
    assert "if not (a and s == '')" in by_desc["`if a and s == ''` -> `if not (...)`"]
    assert by_desc["`a += 1` -> `pass`"].count("pass") == 1
    for mutant in generate_mutants(source, "f.py"):
        ast.parse(mutant.source)  # every mutant is a valid program


def test_docstrings_dead_code_and_duplicates_are_pruned(monkeypatch):
    mutants = generate_mutants(MODULE, "util.py")
    assert all("never mutated" not in m.source.split("\n")[0] or '"""' in m.source for m in mutants)
    assert not any(m.lineno in (1, 5, 9) for m in mutants)  # docstrings, TYPE_CHECKING body
    assert all("LIMIT = 10" in m.source for m in mutants)
    # `if not c` -> `if c` comes from both `boolean` and `condition`: kept once.
    sources = [m.source for m in mutants]
    assert len(sources) == len(set(sources))
    negations = [m for m in mutants if m.lineno == 14 and "if lo <= hi" in m.source]
    assert len(negations) == 1
    # A mutation that changes nothing (same ast.dump) is dropped.
    monkeypatch.setitem(OPERATORS, "identity", lambda node: iter([(node, "no-op")]))
    assert generate_mutants(MODULE, "util.py", MutationConfig(operators=("identity",))) == []


def test_sample_is_seeded_and_ids_are_stable():
    config = MutationConfig(max_mutants=3, seed=1)
    first = generate_mutants(MODULE, "util.py", config)
    assert len(first) == 3 and first == generate_mutants(MODULE, "util.py", config)
    assert first[0].id.startswith(f"util.py:{first[0].lineno}:{first[0].operator}:")
    assert mutant_timeout_s(0.05, MutationConfig()) == 1.0
    assert mutant_timeout_s(0.5, MutationConfig()) == 3.0


def test_a_mutant_is_killed_by_a_test_that_checks_it_and_survives_one_that_does_not():
    (flipped,) = [m for m in generate_mutants(MODULE, "util.py") if "== -> !=" in m.description]
    sources = {"util.py": MODULE}
    checks = {"test_u.py": "from util import is_even\ndef test_e():\n    assert is_even(4)\n"}
    ignores = {
        "test_u.py": "from util import is_even\ndef test_e():\n    assert is_even(4) in (0, 1)\n"
    }
    killed = mutation_score(sources, "util.py", checks, [flipped], harness=NO_CACHE)
    survived = mutation_score(sources, "util.py", ignores, [flipped], harness=NO_CACHE)
    assert (killed.killed, killed.kill_rate, killed.status[flipped.id]) == (1, 1.0, "killed")
    assert (survived.survived, survived.kill_rate) == (1, 0.0)
    assert killed.failure_class is None and killed.n_tests == 1


def test_an_infinite_loop_mutant_is_killed_by_timeout():
    source = "def count(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    (loop,) = [m for m in generate_mutants(source, "c.py") if m.description == "`i += 1` -> `pass`"]
    tests = {"test_c.py": "from c import count\ndef test_c():\n    assert count(3) == 3\n"}
    score = mutation_score({"c.py": source}, "c.py", tests, [loop], harness=NO_CACHE)
    assert score.kill_rate == 1.0 and score.killed_by_timeout == 1


def test_tests_failing_on_the_original_score_zero_with_their_failure_class():
    sources = {"util.py": MODULE}
    mutants = generate_mutants(MODULE, "util.py")
    wrong = {"test_u.py": "from util import is_even\ndef test_e():\n    assert is_even(3)\n"}
    broken = {"test_u.py": "def test_e(:\n"}
    score = mutation_score(sources, "util.py", wrong, mutants, harness=NO_CACHE)
    assert (score.kill_rate, score.failure_class, score.killed) == (0.0, "ASSERTION_FAILURE", 0)
    score = mutation_score(sources, "util.py", broken, mutants, harness=NO_CACHE)
    assert score.kill_rate == 0.0 and score.failure_class == "SYNTAX_ERROR"


def test_python_pack_mutate_returns_a_seeded_valid_mutant():
    pack = get_language_pack("python")
    one, again = pack.mutate(MODULE, seed=3), pack.mutate(MODULE, seed=3)
    assert (
        one == again and one != MODULE and ast.dump(ast.parse(one)) != ast.dump(ast.parse(MODULE))
    )
    with pytest.raises(ValueError, match="no mutable code"):
        pack.mutate('"""Only a docstring."""\nimport os\n', seed=0)


# ---------------------------------------------------------------------------------------------
# Behaviour, not source: the red team of the kill rate
# ---------------------------------------------------------------------------------------------

BEHAVIOURAL = {
    "test_u.py": (
        "import pytest\nfrom util import clamp, is_even\n"
        "def test_even():\n    assert is_even(4) and not is_even(3)\n"
        "def test_clamp():\n    assert clamp(5, 0, 3) == 3 and clamp(-1, 0, 3) == 0\n"
        "    with pytest.raises(ValueError):\n        clamp(1, 2, 0)\n"
    )
}
SOURCE_TESTS = {
    "getsource": (
        "import inspect, util\n"
        f"def test_source():\n    assert inspect.getsource(util) == {MODULE!r}\n"
    ),
    "reads_the_file": (
        f"import util\ndef test_file():\n    assert open(util.__file__).read() == {MODULE!r}\n"
    ),
    # survives reformatting and renaming, kills every operator mutant: only a variant whose
    # file does not hold the code's text catches it
    "greps_the_file": (
        "import util\ndef test_grep():\n    text = open(util.__file__).read()\n"
        "    for part in ('n % 2 == 0', 'not lo <= hi', 'min(max(x, lo), hi)', 'empty range'):\n"
        "        assert part in text\n"
    ),
    # loops instead of failing: times out on the hidden variant, twice, as on mutants
    "loops_on_the_text": (
        "import util\ndef test_loop():\n"
        "    while 'n % 2 == 0' not in open(util.__file__).read():\n        pass\n"
    ),
    "local_names": (
        "import util\n"
        "def test_names():\n    assert util.clamp.__code__.co_varnames == ('x', 'lo', 'hi')\n"
        "    assert util.is_even.__doc__ == 'True for even n.'\n"
    ),
}


def test_equivalent_variants_differ_in_text_and_keep_the_interface():
    from cetd_lib.mutation import equivalent_variants

    source = "def total(prices, rate):\n    s = 0\n    for p in prices:\n        s += p\n    return s * rate\n\ndef head(xs):\n    '''First.'''\n    return xs[0]\n"  # noqa: E501
    variants = equivalent_variants(source, "m.py", 3, seed=0)
    assert len(variants) == 3 and len(set(variants)) == 3
    assert variants == equivalent_variants(source, "m.py", 3, seed=0)  # stable cache keys
    plain = ast.parse(variants[0])
    names = {n.id for n in ast.walk(plain) if isinstance(n, ast.Name)}
    assert {"prices", "rate"} <= names and not {"s", "p"} & names  # locals renamed, params kept
    assert [f.name for f in plain.body if isinstance(f, ast.FunctionDef)] == ["head", "total"]
    assert "First." not in variants[0]
    assert "prices" not in variants[1] and "exec(compile(" in variants[1]  # text hidden
    for text in variants:
        namespace: dict = {"__file__": "m.py"}
        exec(compile(text, "m.py", "exec"), namespace)  # trusted: our own transform of our code
        assert namespace["total"]([1, 2], 3) == 9 and namespace["head"]([7]) == 7


@pytest.mark.parametrize("kind", sorted(SOURCE_TESTS))
def test_a_suite_that_tests_the_source_text_is_source_coupled_and_scores_zero(kind):
    sources, mutants = {"util.py": MODULE}, generate_mutants(MODULE, "util.py")[:5]
    tests = {"test_u.py": SOURCE_TESTS[kind]}
    score = mutation_score(sources, "util.py", tests, mutants, harness=UNSCREENED)
    assert score.kill_rate == 0.0 and score.source_coupled
    assert score.failure_class == "SOURCE_COUPLED" and "variant" in score.detail


@pytest.mark.parametrize("kind", sorted(SOURCE_TESTS))
def test_the_screen_stops_a_source_text_suite_before_any_mutant_runs(kind):
    sources, mutants = {"util.py": MODULE}, generate_mutants(MODULE, "util.py")[:5]
    tests = {"test_u.py": SOURCE_TESTS[kind]}
    score = mutation_score(sources, "util.py", tests, mutants, harness=NO_CACHE)
    assert score.kill_rate == 0.0 and score.failure_class == "REWARD_HACK_SUSPECT"
    assert score.killed == score.survived == 0


def test_without_variants_the_getsource_test_kills_every_mutant_the_hole_being_closed():
    sources, mutants = {"util.py": MODULE}, generate_mutants(MODULE, "util.py")[:5]
    tests = {"test_u.py": SOURCE_TESTS["getsource"]}
    config = MutationConfig(equivalent_variants=0)
    score = mutation_score(sources, "util.py", tests, mutants, config, harness=UNSCREENED)
    assert score.kill_rate == 1.0 and not score.source_coupled


def test_a_behavioural_suite_still_earns_its_kill_rate():
    sources, mutants = {"util.py": MODULE}, generate_mutants(MODULE, "util.py")
    with_check = mutation_score(sources, "util.py", BEHAVIOURAL, mutants, harness=NO_CACHE)
    unchecked = mutation_score(
        sources, "util.py", BEHAVIOURAL, mutants, MutationConfig(equivalent_variants=0),
        harness=NO_CACHE,
    )  # fmt: skip
    assert not with_check.source_coupled and with_check.variants_checked == 3
    assert with_check.kill_rate == unchecked.kill_rate > 0.5
