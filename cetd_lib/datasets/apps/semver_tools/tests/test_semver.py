import pytest

from ranges import Range, max_satisfying, satisfies
from version import Version, parse_version, sort_versions


def test_parse_components():
    v = parse_version("1.2.3-alpha.10+build.5")
    assert (v.major, v.minor, v.patch) == (1, 2, 3)
    assert v.prerelease == ("alpha", 10)
    assert v.build == ("build", "5")
    assert v.is_prerelease


def test_parse_allows_v_prefix_and_str_roundtrip():
    assert str(Version.parse("v2.0.0")) == "2.0.0"
    assert str(Version.parse("1.0.0-rc.1+exp.sha.5114f85")) == "1.0.0-rc.1+exp.sha.5114f85"
    assert repr(Version(1, 2, 3)) == "Version('1.2.3')"


def test_parse_rejects_invalid():
    for bad in ["1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+", "a.b.c", "1.2.3-al..pha", ""]:
        with pytest.raises(ValueError):
            parse_version(bad)


def test_constructor_rejects_negative():
    with pytest.raises(ValueError):
        Version(1, -1, 0)


def test_precedence_chain_from_spec():
    chain = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
    ]
    parsed = [parse_version(s) for s in chain]
    for lower, higher in zip(parsed, parsed[1:]):
        assert lower < higher


def test_numeric_ordering_not_lexical():
    assert parse_version("1.10.0") > parse_version("1.9.9")
    assert parse_version("2.0.0") >= parse_version("2.0.0")


def test_build_metadata_ignored_for_equality():
    a = parse_version("1.0.0+one")
    b = parse_version("1.0.0+two")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_sort_versions():
    result = sort_versions(["1.0.0", "0.9.0", "1.0.0-rc.1", Version(0, 10, 0)])
    assert [str(v) for v in result] == ["0.9.0", "0.10.0", "1.0.0-rc.1", "1.0.0"]
    assert str(sort_versions(["1.0.0", "2.0.0"], reverse=True)[0]) == "2.0.0"


def test_bumps():
    v = parse_version("1.4.7-beta+b1")
    assert str(v.bump_major()) == "2.0.0"
    assert str(v.bump_minor()) == "1.5.0"
    assert str(v.bump_patch()) == "1.4.8"
    assert str(v.bump("minor")) == "1.5.0"
    with pytest.raises(ValueError):
        v.bump("micro")


def test_bump_prerelease():
    assert str(parse_version("1.2.3").bump_prerelease()) == "1.2.4-rc.1"
    assert str(parse_version("1.2.4-rc.1").bump_prerelease()) == "1.2.4-rc.2"
    assert str(parse_version("1.2.4-beta").bump("prerelease")) == "1.2.4-beta.1"
    assert str(parse_version("1.2.3").bump_prerelease("alpha")) == "1.2.4-alpha.1"


def test_simple_comparators_and_exact():
    assert satisfies("1.5.0", ">=1.2.0 <2.0.0")
    assert not satisfies("2.0.0", ">=1.2.0 <2.0.0")
    assert satisfies("1.2.3", "1.2.3")
    assert satisfies("1.2.3", "=1.2.3")
    assert satisfies("1.2.3", ">= 1.0.0")
    assert not satisfies("1.2.4", "1.2.3")


def test_caret_ranges():
    assert satisfies("1.9.9", "^1.2.3")
    assert not satisfies("2.0.0", "^1.2.3")
    assert not satisfies("1.2.2", "^1.2.3")
    assert satisfies("0.2.9", "^0.2.3")
    assert not satisfies("0.3.0", "^0.2.3")
    assert satisfies("0.0.3", "^0.0.3")
    assert not satisfies("0.0.4", "^0.0.3")
    assert not satisfies("2.0.0-alpha", "^1.2.3")


def test_tilde_hyphen_star_and_or():
    assert satisfies("1.2.9", "~1.2.3")
    assert not satisfies("1.3.0", "~1.2.3")
    assert satisfies("2.3.4", "1.2.3 - 2.3.4")
    assert not satisfies("2.3.5", "1.2.3 - 2.3.4")
    assert satisfies("9.9.9", "*")
    assert satisfies("0.0.1", "")
    assert satisfies("3.1.0", "^1.0.0 || ^3.0.0")
    assert not satisfies("2.1.0", "^1.0.0 || ^3.0.0")


def test_range_object_and_max_satisfying():
    r = Range(">1.0.0 <=1.4.0")
    assert "1.4.0" in r
    assert Version(1, 0, 0) not in r
    available = ["1.0.0", "1.3.9", "1.4.0", "1.4.1", "2.0.0"]
    assert [str(v) for v in r.filter(available)] == ["1.3.9", "1.4.0"]
    assert str(max_satisfying(available, "^1.0.0")) == "1.4.1"
    assert max_satisfying(available, ">=3.0.0") is None


def test_invalid_range_raises():
    for bad in ["^1.2", ">>1.0.0", "~banana", "1.0.0 - "]:
        with pytest.raises(ValueError):
            Range(bad)
