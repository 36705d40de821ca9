import pytest
from hypothesis import given
from hypothesis import strategies as st

from cetd_lib.apps.app import bundled_apps_dir
from cetd_lib.apps.requirements import format_requirements, normalize_item, parse_requirements


def test_numbered_list_with_title_and_both_numbering_styles():
    text = "# Requirements: roman\n\n1. Converts ints.\n2) Rejects zero.\n10. Ten items fine.\n"
    assert parse_requirements(text) == ["Converts ints.", "Rejects zero.", "Ten items fine."]


def test_wrapped_continuation_lines_join_the_item():
    text = "1. `to_roman(n)` returns\n   the numeral\nfor n.\n2. Second."
    assert parse_requirements(text) == ["`to_roman(n)` returns the numeral for n.", "Second."]


def test_bullets_are_items_and_nested_bullets_fold_into_their_item():
    assert parse_requirements("- one\n* two\n• three") == ["one", "two", "three"]
    text = "1. Validates input:\n  - rejects zero\n  - rejects negatives\n2. Converts."
    assert parse_requirements(text) == [
        "Validates input: rejects zero rejects negatives",
        "Converts.",
    ]


def test_prose_outside_items_is_not_a_requirement():
    text = "The app must:\n\n1. Add.\n2. Subtract.\n\nThat is all.\n"
    assert parse_requirements(text) == ["Add.", "Subtract."]


def test_indented_paragraph_after_blank_line_continues_the_item():
    assert parse_requirements("1. Add\n\n   two numbers.\n2. Stop.") == [
        "Add two numbers.",
        "Stop.",
    ]


def test_empty_and_title_only_text_give_no_items():
    assert parse_requirements("") == []
    assert parse_requirements("# Just a title\n\n") == []


def test_format_numbers_items_one_per_line():
    assert format_requirements(["Add.", "  Subtract\n twice. "]) == "1. Add.\n2. Subtract twice."


def test_format_refuses_an_empty_item():
    with pytest.raises(ValueError, match="requirement 2 is empty"):
        format_requirements(["Add.", "  "])


@given(st.lists(st.text(min_size=1).filter(lambda s: s.strip()), max_size=25))
def test_parse_reads_back_what_format_writes(items):
    assert parse_requirements(format_requirements(items)) == [normalize_item(i) for i in items]


def test_every_bundled_gold_list_round_trips():
    for gold in sorted(bundled_apps_dir().rglob("gold_requirements.md")):
        items = parse_requirements(gold.read_text())
        assert items, gold
        assert parse_requirements(format_requirements(items)) == items
