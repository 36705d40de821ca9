import pytest

from trie import Trie
from autocomplete import Autocompleter, build_trie, longest_common_prefix, suggest


def test_insert_contains_and_len():
    t = Trie()
    t.insert("car")
    t.insert("cart")
    t.insert("car")
    assert "car" in t
    assert "ca" not in t
    assert "" not in t
    assert len(t) == 2


def test_reinsert_accumulates_weight():
    t = Trie()
    t.insert("go", 3)
    t.insert("go", 2)
    assert t.weight("go") == 5
    with pytest.raises(KeyError):
        t.weight("g")


def test_insert_rejects_empty_and_negative_weight():
    t = Trie()
    with pytest.raises(ValueError):
        t.insert("")
    with pytest.raises(ValueError):
        t.insert("x", -1)


def test_starts_with_is_alphabetical():
    t = build_trie(["banana", "band", "ban", "apple", "bandana"])
    assert t.starts_with("ban") == ["ban", "banana", "band", "bandana"]
    assert t.starts_with("z") == []
    assert list(t) == ["apple", "ban", "banana", "band", "bandana"]


def test_count_prefix():
    t = build_trie(["tea", "ten", "team", "to"])
    assert t.count_prefix("te") == 3
    assert t.count_prefix("t") == 4
    assert t.count_prefix("") == 4
    assert t.count_prefix("x") == 0


def test_remove_word_keeps_others():
    t = build_trie(["tea", "team"])
    assert t.remove("tea") is True
    assert "tea" not in t
    assert "team" in t
    assert t.count_prefix("te") == 1
    assert t.remove("tea") is False
    assert t.remove("nope") is False
    assert len(t) == 1


def test_remove_prunes_so_prefix_count_drops_to_zero():
    t = build_trie(["alpha"])
    t.remove("alpha")
    assert t.count_prefix("al") == 0
    assert t.starts_with("") == []


def test_case_sensitive():
    t = build_trie(["Apple"])
    assert "apple" not in t
    assert t.starts_with("A") == ["Apple"]


def test_suggest_ranks_by_weight_then_alpha():
    t = Trie()
    t.insert("help", 5)
    t.insert("hello", 5)
    t.insert("helm", 9)
    t.insert("hero", 1)
    assert suggest(t, "he") == ["helm", "hello", "help", "hero"]
    assert suggest(t, "he", limit=2) == ["helm", "hello"]
    assert suggest(t, "q") == []


def test_suggest_negative_limit():
    with pytest.raises(ValueError):
        suggest(Trie(), "a", limit=-1)


def test_longest_common_prefix():
    assert longest_common_prefix(["interview", "internet", "interval"]) == "inter"
    assert longest_common_prefix(["dog", "cat"]) == ""
    assert longest_common_prefix([]) == ""
    assert longest_common_prefix(["solo"]) == "solo"


def test_autocompleter_learns_from_selection():
    ac = Autocompleter(["python", "pytest", "pyramid"])
    assert ac.complete("py") == ["pyramid", "pytest", "python"]
    ac.select("python")
    assert ac.complete("py")[0] == "python"
    ac.select("pylint")
    assert "pylint" in ac.trie


def test_autocompleter_expand():
    ac = Autocompleter(["configure", "confirm", "config"])
    assert ac.expand("co") == "confi"
    assert ac.expand("xyz") == "xyz"
    assert ac.expand("configu") == "configure"
