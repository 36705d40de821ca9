"""Language packs: the analyzers behind the multi-task data, one pack per language.

A pack bundles what the Phase-5 data needs to know about a language: how to parse a file, a
quality linter, a security scanner, how to run tests (always through the sandboxed runner) and,
later, how to mutate code (issue mt-rl). Packs are looked up by name in a registry, the way
lm-evaluation-harness registers tasks, so a second language is a new module plus one
`@register_language_pack("name")` line, not an if-chain in the data builder.

Static analyzers (ruff, bandit) read files and never execute them, so they run as plain
subprocesses on a temp dir; anything that executes code goes through
`cetd_lib.sandbox.runner.run_many`.
"""

from __future__ import annotations

import difflib
from typing import Any

# `python` registers itself on import; `base` holds the registry it registers into.
from cetd_lib.langpack import python  # noqa: F401
from cetd_lib.langpack.base import (
    _REGISTRY,
    CWE_CATEGORY,
    SEVERITY_WEIGHT,
    AnalyzerError,
    Finding,
    LanguagePack,
    SourceFileError,
    cwe_category,
    register_language_pack,
)


def available_language_packs() -> list[str]:
    return sorted(_REGISTRY)


def get_language_pack(name: str, **options: Any) -> LanguagePack:
    """A fresh pack by name (options go to its constructor); an unknown name suggests the
    closest registered one."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(
            f"unknown language pack {name!r}{hint}; registered: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](**options)


__all__ = [
    "SEVERITY_WEIGHT",
    "CWE_CATEGORY",
    "AnalyzerError",
    "Finding",
    "LanguagePack",
    "SourceFileError",
    "available_language_packs",
    "cwe_category",
    "get_language_pack",
    "register_language_pack",
]
