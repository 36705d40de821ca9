import pytest

from roman import MAX_VALUE, Roman, arabicize, from_roman, is_valid_roman, to_roman


def test_to_roman_known_values():
    assert to_roman(1) == "I"
    assert to_roman(4) == "IV"
    assert to_roman(9) == "IX"
    assert to_roman(14) == "XIV"
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_to_roman_range_errors():
    for bad in (0, -5, 4000):
        with pytest.raises(ValueError):
            to_roman(bad)
    assert MAX_VALUE == 3999


def test_to_roman_type_errors():
    for bad in (2.0, "5", True):
        with pytest.raises(TypeError):
            to_roman(bad)


def test_from_roman_basic_and_lowercase():
    assert from_roman("MMXXIV") == 2024
    assert from_roman("xl") == 40
    assert from_roman("  CDXLIV ") == 444


def test_from_roman_rejects_non_canonical():
    for bad in ["IIII", "IC", "VX", "XM", "IIX", "MMMM", "VV", "", "ABC", "X I"]:
        with pytest.raises(ValueError):
            from_roman(bad)


def test_from_roman_type_error():
    with pytest.raises(TypeError):
        from_roman(12)


def test_round_trip_all_values():
    for n in range(1, 4000):
        assert from_roman(to_roman(n)) == n


def test_is_valid_roman():
    assert is_valid_roman("MCMLXXXIV")
    assert not is_valid_roman("IL")
    assert not is_valid_roman(None)


def test_arabicize_text():
    text = "Chapter XIV follows Part II, but I and MIX-ups like IIII stay."
    assert arabicize(text) == "Chapter 14 follows Part 2, but I and 1009-ups like IIII stay."
    assert arabicize("lowercase xiv untouched") == "lowercase xiv untouched"


def test_roman_value_object():
    r = Roman("xii")
    assert r.value == 12
    assert int(r) == 12
    assert str(r) == "XII"
    assert repr(r) == "Roman('XII')"
    assert Roman(12) == r
    assert hash(Roman(12)) == hash(r)


def test_roman_comparisons_with_ints():
    assert Roman(5) == 5
    assert Roman(5) < Roman(6)
    assert Roman(10) > 3
    assert Roman(7) <= 7
    assert Roman(5) != "V"


def test_roman_arithmetic():
    assert Roman("X") + Roman("V") == Roman(15)
    assert str(Roman(10) - 1) == "IX"
    assert str(3 * Roman("IV")) == "XII"
    assert isinstance(1 + Roman(1), Roman)
    with pytest.raises(ValueError):
        Roman(3) - 3
    with pytest.raises(ValueError):
        Roman(2000) * 2


def test_roman_is_immutable_and_validates():
    r = Roman(1)
    with pytest.raises(AttributeError):
        r.value = 2
    with pytest.raises(ValueError):
        Roman(0)
    with pytest.raises(ValueError):
        Roman("IIII")
