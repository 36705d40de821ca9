"""The signature-only control: what an app's tests import, as requirement items."""

from __future__ import annotations

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.humaneval import load_humaneval_apps
from cetd_lib.apps.signatures import imported_names, signature_items, split_signature_items
from cetd_lib.evaluation import ladder


def test_humaneval_signature_items_are_golds_own_definition_items():
    apps = {a.app_id: a for a in load_humaneval_apps()}
    make_palindrome = apps["humaneval_010"]  # the entry point and one helper
    items = signature_items(make_palindrome)
    assert items == list(make_palindrome.requirements[:2])
    assert "make_palindrome(string: str) -> str" in items[0]
    assert "helper `is_palindrome(string: str) -> bool`" in items[1]
    # every problem has its signature item, and the rest of gold is content
    for app in apps.values():
        signature, content = split_signature_items(app.requirements, app)
        assert signature and signature[0] == app.requirements[0] and content


def test_bundled_signature_items_render_what_the_tests_import_at_level_3():
    app = next(a for a in load_apps(None) if a.app_id == "arith_expr_evaluator")
    assert imported_names(app) == {
        "evaluator.py": ["Expression", "evaluate"],
        "lexer.py": ["ExprSyntaxError", "TokenKind", "tokenize"],
    }
    items = signature_items(app)
    assert "`lexer.py` defines `def tokenize(source: str) -> list[Token]`." in items
    expression = next(i for i in items if "class Expression" in i)
    assert "def evaluate(self, variables: Mapping[str, float] | None=None) -> float" in expression
    assert not any("Token(" in i or "class Token " in i for i in items)  # not imported
    assert not set(items) & set(app.requirements)  # names, none of gold's prose
    # every bundled app's tests import something: the control is never empty
    assert all(signature_items(a) for a in load_apps(None))


def test_import_module_means_every_public_definition():
    app = App(
        "m",
        {"m.py": "import os\n\nLIMIT = 3\n\ndef _hidden():\n    pass\n\nclass C:\n"
         "    def _private(self):\n        pass\n\n    @property\n    def size(self) -> int:\n"
         "        return 1\n"},
        {"test_m.py": "import m\n\ndef test_it():\n    assert m.LIMIT == 3\n"},
        ("a", "b", "c", "d", "e"),
    )  # fmt: skip
    assert imported_names(app) == {"m.py": None}
    assert signature_items(app) == [
        "`m.py` defines `LIMIT = 3`.",
        "`m.py` defines `class C with @property def size(self) -> int`.",
    ]


def test_drop_rungs_always_keep_the_signature_items():
    apps = load_humaneval_apps()[:30]
    for fraction in (0.25, 0.5, 0.75):
        for app in apps:
            kept = ladder.drop_content_items(app, fraction, ladder.app_rng(0, app.app_id))
            signature, content = split_signature_items(app.requirements, app)
            assert kept[: len(signature)] == signature
            assert kept == [i for i in app.requirements if i in kept]  # original order
            n_content = len(kept) - len(signature)
            assert n_content == ladder.keep_count(len(content), fraction)
    # nested: what survives 75 % dropped survives 50 %
    app = apps[0]
    rungs = [
        set(ladder.drop_content_items(app, f, ladder.app_rng(4, app.app_id)))
        for f in (0.25, 0.5, 0.75)
    ]
    assert rungs[2] <= rungs[1] <= rungs[0]
