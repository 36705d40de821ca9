import pytest

from percent import quote, quote_plus, unquote
from querystring import QueryString, build_qs, parse_qs, parse_qsl


def test_quote_unreserved_and_reserved():
    assert quote("AZaz09-._~") == "AZaz09-._~"
    assert quote("a b&c=d/e") == "a%20b%26c%3Dd%2Fe"


def test_quote_safe_and_utf8():
    assert quote("/path/to file", safe="/") == "/path/to%20file"
    assert quote("café €") == "caf%C3%A9%20%E2%82%AC"


def test_quote_plus():
    assert quote_plus("a b+c") == "a+b%2Bc"


def test_unquote_roundtrip_and_plus_handling():
    assert unquote("caf%c3%a9%20%E2%82%AC") == "café €"
    assert unquote("a+b") == "a+b"
    assert unquote("a+b", plus_as_space=True) == "a b"


def test_unquote_rejects_malformed_escapes():
    for bad in ["%", "abc%2", "%zz", "%C3"]:
        with pytest.raises(ValueError):
            unquote(bad)


def test_parse_qsl_order_duplicates_and_blanks():
    assert parse_qsl("?a=1&&b=two+words&a=3&flag&e=") == [
        ("a", "1"), ("b", "two words"), ("a", "3"), ("flag", ""), ("e", ""),
    ]


def test_parse_qs_groups_and_fragment_dropped():
    assert parse_qs("x=1&y=%3D%26&x=2#section") == {"x": ["1", "2"], "y": ["=&"]}
    assert parse_qs("") == {}


def test_parse_splits_only_at_first_equals():
    assert parse_qs("expr=a=b") == {"expr": ["a=b"]}


def test_build_qs_from_mapping():
    assert build_qs({"q": "hello world", "n": 5, "tags": ["a", "b&c"], "on": True}) == (
        "q=hello+world&n=5&tags=a&tags=b%26c&on=true"
    )


def test_build_qs_none_and_pairs():
    assert build_qs([("k", None), ("k", False), ("é", "x")]) == "k&k=false&%C3%A9=x"
    assert build_qs({}) == ""


def test_build_then_parse_roundtrip():
    params = {"name": "Zoë & co", "path": "/a/b?c", "empty": ""}
    decoded = parse_qs(build_qs(params))
    assert decoded == {k: [v] for k, v in params.items()}


def test_querystring_access():
    qs = QueryString("?a=1&b=2&a=3")
    assert len(qs) == 3
    assert "a" in qs and "z" not in qs
    assert qs.get("a") == "1"
    assert qs.get("z") is None
    assert qs.get("z", "dflt") == "dflt"
    assert qs.get_all("a") == ["1", "3"]
    assert qs.keys() == ["a", "b"]
    assert list(qs) == [("a", "1"), ("b", "2"), ("a", "3")]


def test_querystring_mutation_and_str():
    qs = QueryString("a=1&b=2&a=3")
    qs.set("a", 9)
    assert str(qs) == "a=9&b=2"
    qs.add("c", "x y")
    qs.set("d", True)
    assert str(qs) == "a=9&b=2&c=x+y&d=true"
    qs.remove("b")
    assert qs.to_dict() == {"a": ["9"], "c": ["x y"], "d": ["true"]}
    with pytest.raises(KeyError):
        qs.remove("b")


def test_empty_querystring():
    qs = QueryString()
    assert len(qs) == 0
    assert str(qs) == ""
