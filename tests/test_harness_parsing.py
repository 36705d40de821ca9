"""Model output -> files, and the prompt templates."""

from __future__ import annotations

import pytest

from cetd_lib.apps.app import App
from cetd_lib.reconstruction.backends import oracle_completion
from cetd_lib.reconstruction.parsing import code_blocks, parse_files
from cetd_lib.reconstruction.prompts import PROMPT_VERSION, build_messages, build_prompt
from cetd_lib.sandbox.failures import FailureClass

CODE_A = "def a():\n    return 1\n"
CODE_B = "def b():\n    return 2\n"


@pytest.mark.parametrize(
    "output",
    [
        f'```python title="a.py"\n{CODE_A}```',
        f"```a.py\n{CODE_A}```",
        f"```python file=a.py\n{CODE_A}```",
        f"```python:a.py\n{CODE_A}```",
        f"**a.py**\n```python\n{CODE_A}```",
        f"### a.py\n\n```python\n{CODE_A}```",
        f"`a.py`:\n```python\n{CODE_A}```",
        f"File: src/a.py\n```python\n{CODE_A}```",
        f"Here is the code for a.py:\n```python\n{CODE_A}```",
        f"```python\n# file: a.py\n{CODE_A}```",
        f"```python\n# a.py\n{CODE_A}```",
    ],
)
def test_named_blocks_in_many_styles(output):
    files = parse_files(output, ["a.py", "b.py"]).files
    assert list(files) == ["a.py"]
    assert "def a():" in files["a.py"]


def test_several_named_files():
    output = (
        f"Sure!\n\n```python\n# file: b.py\n{CODE_B}```\n\nand\n\n"
        f'```python title="a.py"\n{CODE_A}```\n'
    )
    result = parse_files(output, ["a.py", "b.py"])
    assert result.ok and not result.missing
    assert result.files["a.py"] == CODE_A
    assert "def b" in result.files["b.py"]


def test_single_unnamed_block_goes_to_the_only_module():
    result = parse_files(f"Here you go:\n```python\n{CODE_A}```\nHope it helps.", ["solution.py"])
    assert result.files == {"solution.py": CODE_A}


def test_longest_unnamed_block_wins_over_usage_examples():
    output = f"```python\n{CODE_A}\n\ndef helper():\n    pass\n```\nUsage:\n```python\na()\n```"
    assert "def helper" in parse_files(output, ["m.py"]).files["m.py"]


def test_unnamed_blocks_fill_modules_in_order_when_counts_match():
    output = f"```python\n{CODE_A}```\n```python\n{CODE_B}```"
    assert parse_files(output, ["a.py", "b.py"]).files == {"a.py": CODE_A, "b.py": CODE_B}


def test_non_python_blocks_are_ignored():
    output = f"```bash\npip install nothing\n```\n```python\n{CODE_A}```"
    assert parse_files(output, ["m.py"]).files == {"m.py": CODE_A}


def test_unclosed_block_at_the_token_cap_is_kept():
    blocks = code_blocks(f"```python\n{CODE_A}def cut(")
    assert len(blocks) == 1 and not blocks[0].closed
    assert parse_files(f"```python\n{CODE_A}def cut(", ["m.py"]).files["m.py"].startswith(CODE_A)


def test_longer_fence_keeps_inner_backticks():
    inner = 'DOC = """\n```\nnot the end\n```\n"""\n'
    result = parse_files(f'````python title="m.py"\n{inner}````', ["m.py"])
    assert result.files == {"m.py": inner}


def test_raw_code_without_fences_is_accepted():
    assert parse_files(CODE_A, ["m.py"]).files == {"m.py": CODE_A}
    text = f"Here is the implementation.\n\n{CODE_A}"
    assert parse_files(text, ["m.py"]).files == {"m.py": CODE_A}


def test_indented_fence_is_dedented():
    output = "1. The module:\n   ```python\n   def a():\n       return 1\n   ```"
    assert parse_files(output, ["m.py"]).files == {"m.py": CODE_A}


@pytest.mark.parametrize(
    "output",
    [None, "", "   \n", "I'm sorry, I can't do that.", "```\n```", "```bash\nls\n```", "hello"],
)
def test_unusable_output_is_empty_generation(output):
    result = parse_files(output, ["m.py"])
    assert result.failure_class == FailureClass.EMPTY_GENERATION
    assert result.files == {}
    assert result.missing == ("m.py",)


def test_model_written_tests_and_unsafe_names_never_become_files():
    output = (
        f'```python title="test_m.py"\ndef test_x():\n    pass\n```\n'
        f'```python title="conftest.py"\nimport os\n```\n'
        f'```python title="../../evil.py"\n{CODE_A}```'
    )
    result = parse_files(output, ["m.py"])
    assert set(result.files) == {"evil.py"}  # only the base name survives: stays in src/
    assert result.missing == ("m.py",)


def test_missing_modules_are_reported():
    result = parse_files(f'```python title="a.py"\n{CODE_A}```', ["a.py", "b.py"])
    assert result.ok and result.missing == ("b.py",)


def test_extra_helper_modules_are_kept():
    output = (
        f'```python title="a.py"\nfrom helpers import b\n```\n```python title="helpers.py"\n'
        f"{CODE_B}```"
    )
    assert set(parse_files(output, ["a.py"]).files) == {"a.py", "helpers.py"}


def test_oracle_output_round_trips_even_with_backticks_in_source():
    app = App("x", {"a.py": "X = '```'\n" + CODE_A, "b.py": CODE_B}, {"test_a.py": ""}, ("r",))
    files = parse_files(oracle_completion(build_prompt(app)), app.module_names).files
    assert files == {"a.py": app.sources["a.py"], "b.py": app.sources["b.py"]}


# ---- prompts --------------------------------------------------------------------------------


def test_prompt_shows_only_requirements_and_module_names():
    app = App(
        "roman",
        {"roman.py": "SECRET_IMPLEMENTATION = 1\n"},
        {"test_roman.py": "SECRET_TEST = 1\n"},
        ("Convert integers to numerals.", "Reject zero."),
        readme="SECRET_README",
    )
    prompt = build_prompt(app)
    text = "\n".join(m["content"] for m in prompt.messages)
    assert "1. Convert integers to numerals." in text and "2. Reject zero." in text
    assert "`roman.py`" in text
    assert "SECRET" not in text
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.prompt_version == PROMPT_VERSION
    assert prompt.module_names == ("roman.py",)


def test_prompt_uses_given_requirements_and_lists_every_module():
    messages = build_messages(["Do a thing."], ["a.py", "b.py"])
    assert "`a.py`, `b.py`" in messages[1]["content"]
    app = App("x", {"a.py": ""}, {}, ("gold item",))
    assert "degraded item" in build_prompt(app, ["degraded item"]).messages[1]["content"]
    assert "gold item" not in build_prompt(app, ["degraded item"]).messages[1]["content"]


def test_v2_prompt_gives_every_sample_the_public_api_and_no_body():
    from cetd_lib.reconstruction.prompts import PROMPT_V1, PROMPT_V2

    app = App(
        "roman",
        {
            "roman.py": 'import re\n\nSECRET_TABLE = [("M", 1000)]\n\n'
            "def to_roman(n: int) -> str:\n"
            '    """SECRET docstring."""\n    return SECRET_BODY(n)\n\n'
            "def _helper():\n    return 'SECRET helper'\n"
        },
        {"test_roman.py": "from roman import to_roman\n\ndef test_one():\n    assert 1\n"},
        ("Convert integers to numerals.", "Reject zero."),
    )
    gold, other = build_prompt(app), build_prompt(app, ["Something else entirely."])
    assert gold.prompt_version == PROMPT_V2 == PROMPT_VERSION
    text = gold.messages[1]["content"]
    assert "# file: roman.py\nimport re\n\ndef to_roman(n: int) -> str:\n    ..." in text
    assert "SECRET" not in text  # no body, docstring, un-imported constant or private helper
    assert "1. Convert integers to numerals." in text
    # the API block is the same whatever the requirements: only the list moves the reward
    head = text.split("Rules:")[0].split("The tests import this API.")[1]
    assert head in other.messages[1]["content"]
    old = build_prompt(app, prompt_version=PROMPT_V1)
    assert "The tests import this API" not in old.messages[1]["content"]
    assert old.prompt_version == PROMPT_V1
    with pytest.raises(ValueError, match="reconstruct-v1"):
        build_prompt(app, prompt_version="reconstruct-v9")


def test_v2_prompt_names_imported_constants_but_hides_their_values():
    """A constant's value is content a test can assert (`LIMIT == 42`): the API block shows the
    name only, at module and class level, while defaults stay part of the signature."""
    app = App(
        "rate",
        {
            "rate.py": "LIMIT = 42\nUNIT: str = 'SECRET_UNIT'\n\n"
            "class Bucket:\n    CAPACITY = 97\n\n    def take(self, n=1):\n        return n\n"
        },
        {
            "test_rate.py": "from rate import LIMIT, UNIT, Bucket\n\n"
            "def test_limit():\n    assert LIMIT == 42 and Bucket.CAPACITY == 97\n"
        },
        ("Allow 42 requests a minute.",),
    )
    text = build_prompt(app, ["Something else entirely."]).messages[1]["content"]
    assert "LIMIT = ..." in text and "UNIT: str = ..." in text and "CAPACITY = ..." in text
    assert "def take(self, n=1):" in text
    assert "42" not in text and "97" not in text and "SECRET_UNIT" not in text
