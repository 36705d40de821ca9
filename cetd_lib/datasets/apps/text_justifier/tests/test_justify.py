import pytest

from formatter import TextFormatter, split_paragraphs
from justify import align, justify, justify_line, wrap

TEXT = "The quick brown fox jumps over the lazy dog"


def test_wrap_greedy():
    assert wrap(TEXT, 15) == ["The quick brown", "fox jumps over", "the lazy dog"]


def test_wrap_collapses_whitespace_and_empty_input():
    assert wrap("  a \n\t b   c ", 80) == ["a b c"]
    assert wrap("", 10) == []
    assert wrap("   ", 10) == []


def test_wrap_splits_long_words():
    assert wrap("hi abcdefghij", 4) == ["hi", "abcd", "efgh", "ij"]


def test_wrap_rejects_bad_width():
    with pytest.raises(ValueError):
        wrap("x", 0)


def test_justify_line_distributes_left_first():
    assert justify_line(["a", "b", "c", "d"], 11) == "a   b  c  d"
    assert justify_line(["a", "b", "c", "d"], 12) == "a   b   c  d"
    assert justify_line(["one", "two"], 9) == "one   two"


def test_justify_line_single_word_and_overflow():
    assert justify_line(["solo"], 10) == "solo"
    assert justify_line([], 5) == ""
    with pytest.raises(ValueError):
        justify_line(["toolong", "words"], 10)


def test_justify_full_text():
    lines = justify(TEXT, 16)
    assert lines == ["The  quick brown", "fox  jumps  over", "the lazy dog"]
    assert all(len(line) == 16 for line in lines[:-1])


def test_justify_empty():
    assert justify("", 10) == []


def test_align_modes():
    assert align("abc", 10, "left") == "abc"
    assert align("abc", 10, "right") == "       abc"
    assert align("abc", 10, "center") == "   abc"
    assert align("a b c", 9, "justify") == "a   b   c"


def test_align_errors():
    with pytest.raises(ValueError):
        align("abcdef", 3, "left")
    with pytest.raises(ValueError):
        align("abc", 5, "diagonal")


def test_split_paragraphs():
    text = "first para\nstill first\n\n  \n\nsecond\n\n"
    assert split_paragraphs(text) == ["first para\nstill first", "second"]


def test_formatter_justify_with_indent():
    fmt = TextFormatter(width=20, indent=4)
    assert fmt.content_width == 16
    out = fmt.format(TEXT + "\n\nShort one.")
    assert out == (
        "    The  quick brown\n"
        "    fox  jumps  over\n"
        "    the lazy dog\n"
        "\n"
        "    Short one."
    )


def test_formatter_right_alignment_lines():
    fmt = TextFormatter(width=12, align="right")
    assert fmt.format_lines("aa bb cc dd ee") == [" aa bb cc dd", "          ee"]


def test_formatter_validation():
    with pytest.raises(ValueError):
        TextFormatter(align="sideways")
    with pytest.raises(ValueError):
        TextFormatter(width=4, indent=4)
    with pytest.raises(ValueError):
        TextFormatter(width=10, indent=-1)
    assert TextFormatter().format("") == ""
