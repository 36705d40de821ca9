import pytest

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.retrieval import Phase1Retriever, code_tokens


def make_app(app_id: str, source: str) -> App:
    gold = tuple(f"{app_id} requirement {i}." for i in range(1, 6))
    return App(app_id, {f"{app_id}.py": source}, {"test_x.py": ""}, gold)


INI = make_app(
    "ini", "def parse_ini(text):\n    section = parseSection(text)\n    return section\n"
)
INI_V2 = make_app("ini_v2", "class IniParser:\n    def parse_section(self, line): ...\n")
HEAP = make_app("heap", "def heap_push(heap, item):\n    sift_up(heap, len(heap) - 1)\n")
QUEUE = make_app("queue", "class PriorityQueue:\n    def push(self, item): heap_push(self.heap)\n")


def test_tokens_split_snake_camel_and_acronyms():
    assert code_tokens("parse_ini") == ["parse", "ini", "parse_ini"]
    assert code_tokens("HTTPServerError") == ["http", "server", "error", "httpservererror"]
    assert code_tokens("parseSection2") == ["parse", "section", "parsesection2"]


def test_keywords_self_and_single_letters_carry_no_signal():
    assert code_tokens("def f(self, x): return None") == []


def test_nearest_finds_the_app_sharing_identifier_parts():
    retriever = Phase1Retriever([INI, INI_V2, HEAP, QUEUE])
    assert [n.app.app_id for n in retriever.nearest(INI, k=1)] == ["ini_v2"]
    assert [n.app.app_id for n in retriever.nearest(HEAP, k=1)] == ["queue"]
    assert retriever.requirements_for(INI) == list(INI_V2.requirements)


def test_nearest_never_returns_the_query_and_ranks_best_first():
    retriever = Phase1Retriever([INI, INI_V2, HEAP, QUEUE])
    ranked = retriever.nearest(INI, k=10)
    assert [n.app.app_id for n in ranked][0] == "ini_v2" and len(ranked) == 3
    assert "ini" not in {n.app.app_id for n in ranked}
    assert [n.score for n in ranked] == sorted((n.score for n in ranked), reverse=True)


def test_ties_break_by_app_id():
    unrelated = make_app("zzz", "def frobnicate(): ...\n")  # shares no token with the corpus
    ranked = Phase1Retriever([QUEUE, INI_V2, HEAP, INI]).nearest(unrelated, k=4)
    assert [n.app.app_id for n in ranked] == ["heap", "ini", "ini_v2", "queue"]
    assert {n.score for n in ranked} == {0.0}


def test_every_bundled_app_gets_another_apps_gold():
    apps = load_apps()
    retriever = Phase1Retriever(apps)
    for app in apps:
        answer = retriever.requirements_for(app)
        assert answer != list(app.requirements) and 5 <= len(answer) <= 20


def test_needs_two_training_apps_and_a_positive_k():
    with pytest.raises(ValueError, match="at least 2 training apps"):
        Phase1Retriever([INI])
    with pytest.raises(ValueError, match="k=0"):
        Phase1Retriever([INI, HEAP]).nearest(INI, k=0)
