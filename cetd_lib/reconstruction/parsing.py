"""Model output -> files: which code goes into which module.

Models name their files in many ways; all of these are understood:

    ```python title="roman.py"        ```roman.py          ```python file=roman.py
    **roman.py**  (or ### roman.py, `roman.py`:, File: roman.py) on the line before a fence
    # file: roman.py   (or # roman.py) as the first line inside the block

A single unnamed block goes to the only module when there is one; unnamed blocks fill the
remaining modules in order when their number matches; raw code without fences is accepted when
it parses as Python. Nothing usable -> `EMPTY_GENERATION`, never an exception: a model's output
can be anything.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from cetd_lib.sandbox.failures import FailureClass

_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*$")
_PY_NAME = r"[A-Za-z_][\w./-]*\.py"
_INFO_NAME = re.compile(
    rf"(?:title|file|filename|name|path)\s*[=:]\s*[\"']?({_PY_NAME})|({_PY_NAME})"
)
_FIRST_LINE_NAME = re.compile(
    rf"^\s*#\s*(?:(?:file|filename|module|path)\s*[:=]?\s*)?({_PY_NAME})\s*$", re.IGNORECASE
)
_HEADING_NAME = re.compile(
    rf"^\s*(?:#+\s*|\*\*|__|`|(?:file|filename|module)\s*:\s*)*[`*_]*({_PY_NAME})[`*_]*\s*:?\s*$",
    re.IGNORECASE,
)
_ANY_NAME = re.compile(rf"(?<![\w.])({_PY_NAME})")
_NON_PYTHON = {
    "bash",
    "sh",
    "shell",
    "console",
    "text",
    "txt",
    "json",
    "yaml",
    "yml",
    "toml",
    "output",
    "ini",
    "cfg",
    "markdown",
    "md",
    "diff",
    "html",
    "xml",
    "csv",
    "sql",
}
_CODE_START = re.compile(
    r"^(?:def |class |import |from |@|async def |[A-Za-z_]\w*\s*=)", re.MULTILINE
)


@dataclass(frozen=True)
class CodeBlock:
    info: str  # the fence's info string ("python title=x.py")
    code: str
    before: str  # prose between the previous block and this one
    closed: bool  # False when the output ended inside the block (token cap)


@dataclass(frozen=True)
class ParseResult:
    """Files recovered from one model output."""

    files: dict[str, str] = field(default_factory=dict)
    failure_class: FailureClass | None = None  # EMPTY_GENERATION when files is empty
    detail: str = ""
    missing: tuple[str, ...] = ()  # expected modules the output did not provide

    @property
    def ok(self) -> bool:
        return self.failure_class is None


def code_blocks(text: str) -> list[CodeBlock]:
    """Fenced blocks per CommonMark: a closing fence uses the same character and is at least
    as long as the opening one (so code containing ``` inside a ```` fence survives)."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    index, prose_start = 0, 0
    while index < len(lines):
        match = _FENCE_OPEN.match(lines[index])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            index += 1
            continue
        fence = match["fence"]
        body: list[str] = []
        cursor = index + 1
        closed = False
        while cursor < len(lines):
            close = _FENCE_CLOSE.match(lines[cursor])
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence):
                closed = True
                break
            body.append(lines[cursor])
            cursor += 1
        code = "\n".join(body)
        if match["indent"]:
            code = textwrap.dedent(code)
        blocks.append(
            CodeBlock(
                match["info"],
                code.strip("\n") + "\n" if code.strip() else "",
                "\n".join(lines[prose_start:index]),
                closed,
            )
        )
        index = cursor + 1
        prose_start = index
    return blocks


def _normalise(name: str, module_names: Sequence[str]) -> str | None:
    name = name.strip().strip("`*'\":")
    while name.startswith("./"):
        name = name[2:]
    path = PurePosixPath(name)
    if path.name in module_names:
        return path.name
    if path.parts and path.parts[0] == "src":
        path = PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else path
    if path.is_absolute() or ".." in path.parts or not path.parts or len(str(path)) > 100:
        return None
    return str(path)


def _block_name(block: CodeBlock, module_names: Sequence[str]) -> str | None:
    match = _INFO_NAME.search(block.info)
    if match:
        return match.group(1) or match.group(2)
    first = block.code.split("\n", 1)[0]
    match = _FIRST_LINE_NAME.match(first)
    if match:
        return match.group(1)
    before = [line for line in block.before.splitlines() if line.strip()][-1:]
    if before and len(before[0]) < 160:
        heading = _HEADING_NAME.match(before[0])
        if heading:
            return heading.group(1)
        named = [n for n in _ANY_NAME.findall(before[0]) if PurePosixPath(n).name in module_names]
        if len(set(named)) == 1:  # "Here is roman.py:" names it; "uses a.py and b.py" doesn't
            return named[0]
    return None


def _is_python(block: CodeBlock) -> bool:
    language = block.info.split()[0].lower().lstrip("{.") if block.info.split() else ""
    return language not in _NON_PYTHON


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _raw_code(text: str) -> str | None:
    """Unfenced output: the whole text, or from the first line that starts code, if it parses."""
    stripped = text.strip("\n")
    if stripped and _CODE_START.search(stripped) and _parses(stripped):
        return stripped + "\n"
    lines = stripped.splitlines()
    for start, line in enumerate(lines):
        if _CODE_START.match(line):
            candidate = "\n".join(lines[start:])
            if _parses(candidate):
                return candidate + "\n"
            break
    return None


def parse_files(output: str | None, module_names: Sequence[str]) -> ParseResult:
    """Files for `module_names` (plus any extra helper modules the output names).

    >>> parse_files("```python\\ndef f():\\n    return 1\\n```", ["m.py"]).files
    {'m.py': 'def f():\\n    return 1\\n'}
    >>> parse_files("I cannot help with that.", ["m.py"]).failure_class.value
    'EMPTY_GENERATION'
    """
    modules = list(module_names)
    if not output or not output.strip():
        return ParseResult(
            failure_class=FailureClass.EMPTY_GENERATION,
            detail="the model returned no text",
            missing=tuple(modules),
        )
    files: dict[str, str] = {}
    unnamed: list[str] = []
    for block in code_blocks(output):
        if not block.code.strip():
            continue
        raw_name = _block_name(block, modules)
        name = _normalise(raw_name, modules) if raw_name else None
        if name is not None:
            if PurePosixPath(name).name == "conftest.py" or name.startswith("test_"):
                continue  # the model's own tests never replace or shadow the real ones
            files[name] = block.code
        elif _is_python(block):
            unnamed.append(block.code)
    if not files and not unnamed and not code_blocks(output):
        raw = _raw_code(output)
        if raw is not None:
            unnamed.append(raw)
    remaining = [m for m in modules if m not in files]
    if unnamed and remaining:
        if len(remaining) == 1:
            # Several unnamed blocks for one module: the longest one is the implementation;
            # the others are usually example usage.
            files[remaining[0]] = max(unnamed, key=len)
        elif len(unnamed) == len(remaining):
            files.update(zip(remaining, unnamed, strict=True))
    if not files:
        return ParseResult(
            failure_class=FailureClass.EMPTY_GENERATION,
            detail=f"no code block could be assigned to {', '.join(modules) or 'a module'}",
            missing=tuple(modules),
        )
    missing = tuple(m for m in modules if m not in files)
    return ParseResult(
        files=files,
        missing=missing,
        detail=f"missing modules: {', '.join(missing)}" if missing else "",
    )
