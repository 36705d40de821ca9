"""The language-pack interface: findings, errors, the `LanguagePack` protocol and its registry."""

from __future__ import annotations

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
