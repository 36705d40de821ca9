import ast
import io
import tokenize

import pytest

from cetd_lib.apps.app import App, load_apps
from cetd_lib.apps.degrade import (
    Level,
    degrade,
    degrade_requirements,
    render_context,
    signatures_only,
    strip_comments_and_docstrings,
)
from cetd_lib.apps.humaneval import load_humaneval_apps
from cetd_lib.sandbox.runner import run_many

SOURCE = '''\
"""Module docstring."""

import math  # needed for sqrt

TEXT = """keep   # this
  exactly   """


class Shape:
    """A shape."""

    sides: int = 0
    NAME = "shape"  # class constant

    @property
    def area(self) -> float:
        """Area."""
        # computed lazily
        return math.sqrt(self.sides)  # not really


class Empty:
    """Only a docstring."""


def f(é: int) -> str: "inline docstring"


async def g(x, *, y=2):
    """Waits."""
    return "#not a comment" + str(x)
'''

STRIPPED = '''\
import math

TEXT = """keep   # this
  exactly   """


class Shape:

    sides: int = 0
    NAME = "shape"

    @property
    def area(self) -> float:
        return math.sqrt(self.sides)


class Empty:
    pass


def f(é: int) -> str: pass


async def g(x, *, y=2):
    return "#not a comment" + str(x)
'''

SIGNATURES = """\
import math
TEXT = 'keep   # this\\n  exactly   '

class Shape:
    sides: int = 0
    NAME = 'shape'

    @property
    def area(self) -> float:
        ...

class Empty:
    ...

def f(é: int) -> str:
    ...

async def g(x, *, y=2):
    ...
"""

APP = App(
    "shapes",
    {"shapes.py": SOURCE},
    {"test_shapes.py": "def test_x():\n    pass\n"},
    tuple(f"Requirement {i}." for i in range(1, 6)),
    readme="# Shapes\n",
)


@pytest.fixture(scope="module")
def corpus():
    return load_apps() + load_humaneval_apps()


def has_comment(source: str) -> bool:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return any(t.type == tokenize.COMMENT for t in tokens)


def has_docstring(source: str) -> bool:
    nodes = [n for n in ast.walk(ast.parse(source)) if hasattr(n, "body")]
    return any(
        isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and ast.get_docstring(n) is not None
        for n in nodes
    )


def test_level_1_is_everything():
    view = degrade(APP, 1)
    assert view.level is Level.FULL and view.files == APP.sources and view.readme == "# Shapes\n"
    assert "Module docstring" in render_context(APP, 1) and "# Shapes" in render_context(APP, 1)


def test_level_2_strips_comments_and_docstrings_and_keeps_the_rest_as_written():
    assert strip_comments_and_docstrings(SOURCE) == STRIPPED


def test_level_2_drops_readme_and_leaves_code_only():
    view = degrade(APP, Level.CODE)
    assert view.readme is None and view.files == {"shapes.py": STRIPPED}


def test_level_3_keeps_signatures_decorators_and_class_assignments():
    assert signatures_only(SOURCE) == SIGNATURES
    assert degrade(APP, 3).files == {"shapes.py": SIGNATURES}


def test_level_4_is_requirements_only():
    view = degrade(APP, 4)
    assert view.files == {} and view.readme is None
    assert render_context(APP, 4) == (
        "### Requirements\n" + "\n".join(f"{i}. Requirement {i}." for i in range(1, 6)) + "\n"
    )


def test_render_names_each_module_in_a_fence():
    text = render_context(APP, 2)
    assert text.startswith("### src/shapes.py\n```python\nimport math\n")
    assert text.endswith("```\n")


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError, match="expected 1, 2, 3 or 4"):
        degrade(APP, 5)


def test_levels_2_and_3_hold_no_comment_or_docstring_across_the_corpus(corpus):
    for app in corpus:
        for level in (2, 3):
            for name, text in degrade(app, level).files.items():
                ast.parse(text)
                assert not has_comment(text), (app.app_id, level, name)
                assert not has_docstring(text), (app.app_id, level, name)


def test_level_3_bodies_are_ellipsis_across_the_corpus(corpus):
    for app in corpus:
        for text in degrade(app, 3).files.values():
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert ast.unparse(node.body[0]) == "..." and len(node.body) == 1


def test_every_app_still_passes_its_own_tests_at_level_2(corpus):
    views = [degrade(app, Level.CODE).files for app in corpus]
    results = run_many([(files, app.tests) for files, app in zip(views, corpus, strict=True)])
    failing = {
        app.app_id: [k for k, o in result.per_test.items() if not o.passed]
        for app, result in zip(corpus, results, strict=True)
        if not result.per_test or result.pass_rate != 1.0
    }
    assert not failing


ITEMS = [
    "`add(a, b)` returns the sum, accepts ints and floats, and never rounds.",
    "It raises `TypeError` for strings; the message names the argument.",
    "It is pure.",
    "Results are cached per argument pair, keyed by value, for one hour.",
]


def test_degrade_requirements_is_seeded():
    assert degrade_requirements(ITEMS, 0.5, seed=3) == degrade_requirements(ITEMS, 0.5, seed=3)
    outcomes = {tuple(degrade_requirements(ITEMS, 0.5, seed=s)) for s in range(20)}
    assert len(outcomes) > 3


def test_rate_zero_keeps_everything_and_rate_one_loses_a_detail_everywhere():
    assert degrade_requirements(ITEMS, rate=0.0, seed=0) == ITEMS
    for seed in range(10):
        degraded = degrade_requirements(ITEMS, rate=1.0, seed=seed)
        assert "It is pure." not in degraded  # one clause only: the item goes
        assert len(degraded) == 3
        for before, after in zip([ITEMS[0], ITEMS[1], ITEMS[3]], degraded, strict=True):
            assert len(after) < len(before) and after.split()[0] == before.split()[0]
        # clauses split outside code spans and brackets, and the sentence still ends once
        assert degraded[0].startswith("`add(a, b)` returns the sum, ")
        assert all(item.endswith(".") and not item.endswith("..") for item in degraded)


def test_at_least_one_item_survives():
    assert len(degrade_requirements(["One.", "Two."], rate=1.0, seed=0)) == 1


def test_paraphrase_hook_rewrites_every_kept_item():
    calls = []

    def fake_llm(item: str) -> str:
        calls.append(item)
        return item.upper()

    out = degrade_requirements(ITEMS, rate=0.0, seed=0, paraphrase=fake_llm)
    assert calls == ITEMS and out == [item.upper() for item in ITEMS]
    with pytest.raises(ValueError, match="paraphrase returned ''"):
        degrade_requirements(ITEMS, rate=0.0, seed=0, paraphrase=lambda item: "")


def test_context_level_4_is_refused_for_training_and_evaluating_an_extractor(tmp_path):
    from cetd_lib.evaluation.phase2 import SourceContext, requirements_from
    from cetd_lib.params import ParamsError, load_params
    from cetd_lib.train.config import Stage1Config, Stage2Config

    for key in ("stage1.context_level", "stage2.context_level", "eval.context_level"):
        with pytest.raises(ParamsError, match=f"{key.split('.')[1]}=4 .*hands the answer"):
            load_params(None, [f"{key}=4"])
        assert load_params(None, [f"{key}=3"])  # signatures only is a fair task
    with pytest.raises(ValueError, match="stage1.context_level=4"):
        Stage1Config(context_level=4)
    with pytest.raises(ValueError, match="stage2.context_level=0: expected 1, 2 or 3"):
        Stage2Config(context_level=0)

    class Copier:  # would score BLEU 1.0 by echoing its input
        def extract_requirements(self, codes, max_new_tokens):
            return list(codes)

    app = App("a", {"m.py": "x = 1\n"}, {"test_m.py": "def test(): pass\n"}, ("x is 1.",))
    ctx = SourceContext(extractor=Copier(), context_level=4)
    with pytest.raises(ValueError, match="context_level=4 shows the extractor the gold"):
        requirements_from("extractor", [app], ctx)
