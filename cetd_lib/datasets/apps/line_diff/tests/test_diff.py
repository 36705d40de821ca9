import pytest

from diff import DiffOp, Hunk, diff_lines, diff_stats, diff_texts, make_hunks, unified_diff
from lcs import lcs_length, longest_common_subsequence


def numbered(n):
    return [str(i) for i in range(1, n + 1)]


def test_lcs_length():
    assert lcs_length("ABCBDAB", "BDCABA") == 4
    assert lcs_length([], ["x"]) == 0
    assert lcs_length(["a", "b"], ["a", "b"]) == 2


def test_longest_common_subsequence_unique_case():
    assert longest_common_subsequence(list("XMJYAUZ"), list("MZJAWXU")) == list("MJAU")
    assert longest_common_subsequence(["p", "q"], ["r"]) == []


def test_diff_lines_identical():
    ops = diff_lines(["a", "b"], ["a", "b"])
    assert ops == [DiffOp("equal", "a"), DiffOp("equal", "b")]


def test_diff_lines_replacement_puts_deletions_first():
    ops = diff_lines(["a", "b", "c", "d"], ["a", "x", "y", "d"])
    assert [(op.tag, op.line) for op in ops] == [
        ("equal", "a"),
        ("delete", "b"),
        ("delete", "c"),
        ("insert", "x"),
        ("insert", "y"),
        ("equal", "d"),
    ]


def test_diff_lines_pure_insert_and_delete():
    assert [op.tag for op in diff_lines([], ["x"])] == ["insert"]
    assert [op.tag for op in diff_lines(["x"], [])] == ["delete"]
    assert diff_lines([], []) == []


def test_diff_op_render():
    assert DiffOp("equal", "keep").render() == " keep"
    assert DiffOp("delete", "gone").render() == "-gone"
    assert DiffOp("insert", "new").render() == "+new"


def test_diff_stats():
    ops = diff_lines(["a", "b", "c"], ["a", "c", "d", "e"])
    assert diff_stats(ops) == {"added": 2, "removed": 1, "unchanged": 2}


def test_unified_diff_no_changes_is_empty():
    assert unified_diff(["same"], ["same"]) == ""


def test_unified_diff_single_hunk_with_context():
    a = numbered(6)
    b = ["1", "2", "3", "three-and-a-half", "4", "5", "6"]
    expected = (
        "--- old.txt\n"
        "+++ new.txt\n"
        "@@ -2,4 +2,5 @@\n"
        " 2\n"
        " 3\n"
        "+three-and-a-half\n"
        " 4\n"
        " 5\n"
    )
    assert unified_diff(a, b, "old.txt", "new.txt", context=2) == expected


def test_unified_diff_splits_distant_changes_into_two_hunks():
    a = numbered(20)
    b = list(a)
    b[1] = "two"
    del b[15]
    b.append("21")
    text = unified_diff(a, b)
    headers = [line for line in text.splitlines() if line.startswith("@@")]
    assert headers == ["@@ -1,5 +1,5 @@", "@@ -13,8 +13,8 @@"]
    assert "-16\n" in text and "+21\n" in text and "+two\n" in text


def test_nearby_changes_merge_into_one_hunk():
    a = numbered(10)
    b = list(a)
    b[2] = "X"
    b[7] = "Y"
    hunks = make_hunks(diff_lines(a, b), context=2)
    assert len(hunks) == 1
    assert (hunks[0].old_start, hunks[0].old_count, hunks[0].new_start, hunks[0].new_count) == (1, 10, 1, 10)
    assert len(make_hunks(diff_lines(a, b), context=1)) == 2


def test_hunk_header_for_empty_sides():
    assert unified_diff([], ["x", "y"]).splitlines()[2] == "@@ -0,0 +1,2 @@"
    assert unified_diff(["x", "y"], []).splitlines()[2] == "@@ -1,2 +0,0 @@"
    assert unified_diff(["a", "c"], ["a", "b", "c"], context=0).splitlines()[2] == "@@ -1,0 +2,1 @@"


def test_hunk_object_lines():
    hunk = Hunk(3, 1, 3, 1, [DiffOp("delete", "old"), DiffOp("insert", "new")])
    assert hunk.header() == "@@ -3,1 +3,1 @@"
    assert hunk.lines() == ["@@ -3,1 +3,1 @@", "-old", "+new"]


def test_negative_context_rejected():
    with pytest.raises(ValueError):
        make_hunks(diff_lines(["a"], ["b"]), context=-1)


def test_diff_texts_splits_lines():
    out = diff_texts("alpha\nbeta\n", "alpha\ngamma\n")
    assert out == "--- a\n+++ b\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+gamma\n"
