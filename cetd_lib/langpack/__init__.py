"""Language packs: the analyzers behind the multi-task data, one pack per language.

A pack bundles what the Phase-5 data needs to know about a language: how to parse a file, a
quality linter, a security scanner, how to run tests (always through the sandboxed runner) and,
later, how to mutate code (issue mt-rl). Packs are looked up by name in a registry, the way
lm-evaluation-harness registers tasks, so a second language is a new module plus one
`@register_language_pack("name")` line, not an if-chain in the data builder.

Static analyzers (ruff, bandit) read files and never execute them, so they run as plain
subprocesses on a temp dir; anything that executes code goes through
`cetd_lib.harness.runner.run_many`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

SEVERITY_WEIGHT = {"LOW": 1.0, "MEDIUM": 2.0, "HIGH": 3.0}
"""Loss weight per bandit severity: a HIGH finding missed costs three LOW ones."""

# CWE ids bandit reports (bandit.core.issue.Cwe) grouped into the categories the security head
# predicts; the names follow the CWE "Software Development" view's top-level groups.
CWE_CATEGORY: dict[int, str] = {
    20: "input-validation",
    22: "input-validation",
    78: "injection",
    79: "injection",
    80: "injection",
    89: "injection",
    94: "injection",
    155: "injection",
    838: "injection",
    259: "credentials",
    284: "permissions",
    732: "permissions",
    295: "transport",
    319: "transport",
    326: "cryptography",
    327: "cryptography",
    330: "cryptography",
    377: "filesystem",
    400: "resource",
    605: "resource",
    494: "supply-chain",
    502: "deserialization",
    703: "error-handling",
}


def cwe_category(cwe: int | None) -> str:
    """Category of a CWE id; `other` for ids outside the table, `none` when no CWE is given."""
    if not cwe:
        return "none"
    return CWE_CATEGORY.get(cwe, "other")


class SourceFileError(ValueError):
    """A source file cannot be used: unreadable, not UTF-8 or not parseable. Says which and why."""

    def __init__(self, source_id: str, problem: str) -> None:
        self.source_id = source_id
        self.problem = problem
        super().__init__(f"{source_id}: {problem}")


class AnalyzerError(RuntimeError):
    """An analyzer (ruff, bandit) is missing or produced output that cannot be read."""


@dataclass(frozen=True)
class Finding:
    """One analyzer finding on one file.

    `code` is the rule id (ruff `F401`, bandit `B506`); `severity` is bandit's LOW/MEDIUM/HIGH
    (ruff has none: None); `cwe` is the CWE id bandit attaches (None for ruff).
    """

    tool: str
    code: str
    line: int
    message: str
    end_line: int | None = None
    name: str = ""
    severity: str | None = None
    confidence: str | None = None
    cwe: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class LanguagePack(Protocol):
    """What the multi-task data builder asks of a language.

    Every batch method takes `{file name: source text}` and answers per file name, so one
    analyzer process serves a whole batch (starting ruff or bandit per file would dominate).
    """

    name: str
    suffix: str  # file name suffix, e.g. ".py"

    def parse(self, source: str, source_id: str) -> Any:
        """The syntax tree of `source`; raises `SourceFileError` when it does not parse."""
        ...

    def lint_quality(self, files: Mapping[str, str]) -> dict[str, list[Finding]]:
        """Code-quality findings per file name (every file name present, maybe empty)."""
        ...

    def security_scan(self, files: Mapping[str, str]) -> dict[str, list[Finding]]:
        """Security findings per file name, each with a severity and a CWE id where known."""
        ...

    def run_tests(self, jobs: Sequence[tuple[Mapping[str, str], Mapping[str, str]]]) -> list[Any]:
        """Run `(sources, tests)` jobs in the sandboxed runner; one `RunResult` per job."""
        ...

    def rule_doc(self, tool: str, code: str) -> str:
        """The tool's own documentation of a rule (what it checks, why it matters)."""
        ...

    def mutate(self, source: str, *, seed: int) -> str:
        """A semantically changed variant of `source` (mutation engine, issue mt-rl)."""
        ...


_REGISTRY: dict[str, Callable[..., LanguagePack]] = {}


def register_language_pack(
    name: str,
) -> Callable[[Callable[..., LanguagePack]], Callable[..., LanguagePack]]:
    """Class decorator: `get_language_pack(name, **options)` builds `factory(**options)`."""

    def decorate(factory: Callable[..., LanguagePack]) -> Callable[..., LanguagePack]:
        if name in _REGISTRY:
            raise ValueError(f"language pack {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorate


def available_language_packs() -> list[str]:
    _load_builtin_packs()
    return sorted(_REGISTRY)


def get_language_pack(name: str, **options: Any) -> LanguagePack:
    """A fresh pack by name (options go to its constructor); an unknown name suggests the
    closest registered one."""
    _load_builtin_packs()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(
            f"unknown language pack {name!r}{hint}; registered: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](**options)


def _load_builtin_packs() -> None:
    # Imported lazily so `import cetd_lib.langpack` stays cheap and free of cycles.
    from cetd_lib.langpack import python  # noqa: F401  (registers "python")


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
