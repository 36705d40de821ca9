"""The Python language pack: `ast` to parse, ruff for quality, bandit for security, pytest (in
the sandboxed runner) for tests.

ruff and bandit only read the files (static analysis executes nothing), so they run as
subprocesses of the installed tools on a private temp dir, once per batch. Test runs go through
`cetd_lib.sandbox.runner.run_many`, the one runner for untrusted code.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from cetd_lib.langpack.base import AnalyzerError, Finding, SourceFileError, register_language_pack

# Rule families worth predicting: correctness (F, B, PL), modernisation (UP), idioms (C4, SIM,
# PERF, RET, PIE), naming (N), complexity (C90). `ALL` also turns on per-project conventions
# (copyright headers, docstring styles, type annotations) that say little about code quality.
DEFAULT_RUFF_SELECT = (
    "E",
    "W",
    "F",
    "B",
    "C4",
    "C90",
    "SIM",
    "UP",
    "PL",
    "RUF",
    "N",
    "PERF",
    "RET",
    "ARG",
    "PIE",
    "BLE",
    "A",
)
_ANALYZER_TIMEOUT_S = 600.0


def _ruff_binary() -> str:
    """The ruff beside this interpreter (the venv's pinned one), else the one on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return str(beside)
    found = shutil.which("ruff")
    if found is None:
        raise AnalyzerError(
            "ruff executable not found beside the interpreter or on PATH; "
            "install the pinned ruff (pyproject.toml) into this environment"
        )
    return found


def _run_tool(argv: list[str], cwd: Path, ok_codes: tuple[int, ...]) -> str:
    # Static analyzers on files we wrote ourselves: no shell, fixed argv, bounded time.
    try:
        done = subprocess.run(  # noqa: S603
            argv, cwd=cwd, capture_output=True, text=True, timeout=_ANALYZER_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AnalyzerError(f"{' '.join(argv[:3])} failed to run: {exc}") from exc
    if done.returncode not in ok_codes:
        raise AnalyzerError(
            f"{' '.join(argv[:3])} exited with {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def _write_batch(files: Mapping[str, str], folder: Path) -> dict[str, str]:
    """Write each text as `f<index>.py`; returns disk name -> caller's file name.

    Caller names (e.g. `stdlib/json/decoder.py`) can hold slashes or clash in case; index names
    cannot, and no rule in the curated set depends on the module name.
    """
    names = {}
    for index, (name, text) in enumerate(files.items()):
        disk = f"f{index:06d}.py"
        (folder / disk).write_text(text, encoding="utf-8")
        names[disk] = name
    return names


@register_language_pack("python")
class PythonPack:
    """Analyzers for Python 3.11 sources."""

    name = "python"
    suffix = ".py"

    def __init__(
        self,
        ruff_select: Sequence[str] = DEFAULT_RUFF_SELECT,
        line_length: int = 100,
        target_version: str = "py311",
    ) -> None:
        if not ruff_select:
            raise ValueError("ruff_select is empty; name rule families, e.g. ['E', 'F'] or ['ALL']")
        self.ruff_select = tuple(ruff_select)
        self.line_length = line_length
        self.target_version = target_version

    # -- parse -----------------------------------------------------------------------------
    def parse(self, source: str, source_id: str) -> ast.Module:
        try:
            return ast.parse(source, filename=source_id)
        except SyntaxError as exc:
            raise SourceFileError(
                source_id, f"does not parse as Python 3.11: line {exc.lineno}: {exc.msg}"
            ) from exc
        except ValueError as exc:  # e.g. source holds NUL bytes
            raise SourceFileError(source_id, f"cannot be parsed: {exc}") from exc

    # -- quality: ruff ---------------------------------------------------------------------
    def lint_quality(self, files: Mapping[str, str]) -> dict[str, list[Finding]]:
        """`ruff check --isolated --output-format json --select ...` over the whole batch."""
        out: dict[str, list[Finding]] = {name: [] for name in files}
        if not files:
            return out
        with tempfile.TemporaryDirectory(prefix="cetd-ruff-") as tmp:
            folder = Path(tmp)
            names = _write_batch(files, folder)
            argv = [
                _ruff_binary(),
                "check",
                "--isolated",  # ignore any pyproject.toml above the temp dir
                "--no-cache",
                "--exit-zero",
                "--output-format",
                "json",
                "--target-version",
                self.target_version,
                "--line-length",
                str(self.line_length),
                "--select",
                ",".join(self.ruff_select),
                ".",
            ]
            raw = _run_tool(argv, folder, ok_codes=(0,))
        try:
            diagnostics = json.loads(raw or "[]")
        except json.JSONDecodeError as exc:
            raise AnalyzerError(f"ruff printed output that is not JSON: {raw[:300]!r}") from exc
        for diag in diagnostics:
            name = names.get(Path(diag["filename"]).name)
            if name is None or diag.get("code") is None:  # None: a syntax error, not a rule
                continue
            out[name].append(
                Finding(
                    tool="ruff",
                    code=diag["code"],
                    line=diag["location"]["row"],
                    end_line=diag["end_location"]["row"],
                    message=diag["message"],
                    name=diag.get("name", ""),
                )
            )
        return out

    # -- security: bandit ------------------------------------------------------------------
    def security_scan(self, files: Mapping[str, str]) -> dict[str, list[Finding]]:
        """`bandit -f json -r` over the whole batch; every finding keeps severity and CWE."""
        out: dict[str, list[Finding]] = {name: [] for name in files}
        if not files:
            return out
        with tempfile.TemporaryDirectory(prefix="cetd-bandit-") as tmp:
            folder = Path(tmp)
            names = _write_batch(files, folder)
            argv = [sys.executable, "-m", "bandit", "-f", "json", "-q", "-r", "."]
            raw = _run_tool(argv, folder, ok_codes=(0, 1))  # 1 = issues found
        try:
            report = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AnalyzerError(f"bandit printed output that is not JSON: {raw[:300]!r}") from exc
        if report.get("errors"):
            failed = [names.get(Path(e["filename"]).name, e["filename"]) for e in report["errors"]]
            raise AnalyzerError(f"bandit could not scan {failed}: {report['errors'][0]['reason']}")
        for item in report.get("results", []):
            name = names.get(Path(item["filename"]).name)
            if name is None:
                continue
            cwe = (item.get("issue_cwe") or {}).get("id") or None
            out[name].append(
                Finding(
                    tool="bandit",
                    code=item["test_id"],
                    line=item["line_number"],
                    end_line=max(item.get("line_range") or [item["line_number"]]),
                    message=item["issue_text"],
                    name=item.get("test_name", ""),
                    severity=item["issue_severity"],
                    confidence=item["issue_confidence"],
                    cwe=int(cwe) if cwe else None,
                )
            )
        return out

    # -- tests -----------------------------------------------------------------------------
    def run_tests(
        self,
        jobs: Sequence[tuple[Mapping[str, str], Mapping[str, str]]],
        *,
        timeout_s: float | None = None,
        config: Any = None,
    ) -> list[Any]:
        from cetd_lib.sandbox.runner import run_many  # the one runner for untrusted code

        return run_many(list(jobs), timeout_s=timeout_s, config=config)

    # -- rule documentation ----------------------------------------------------------------
    @cached_property
    def _ruff_rules(self) -> dict[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="cetd-ruff-") as tmp:
            raw = _run_tool(
                [_ruff_binary(), "rule", "--all", "--output-format", "json"], Path(tmp), (0,)
            )
        return {rule["code"]: rule for rule in json.loads(raw)}

    @cached_property
    def _bandit_rules(self) -> dict[str, dict[str, str]]:
        """test id -> {name, doc}: plugin docstrings and blacklist messages (bandit.core)."""
        from bandit.core import extension_loader

        manager = extension_loader.MANAGER
        rules = {}
        for plugin in manager.plugins:
            test_id = getattr(plugin.plugin, "_test_id", None)
            if test_id:
                # Most plugins document themselves in the function docstring, some (B506) in
                # their module's docstring.
                module = sys.modules.get(plugin.plugin.__module__)
                doc = plugin.plugin.__doc__ or (module.__doc__ if module else "") or ""
                rules[test_id] = {"name": plugin.name, "doc": doc}
        for entries in manager.blacklist.values():
            for entry in entries:
                rules.setdefault(entry["id"], {"name": entry["name"], "doc": entry["message"]})
        return rules

    def rule_doc(self, tool: str, code: str) -> str:
        """ruff: the `ruff rule <code>` markdown; bandit: the plugin docstring or blacklist text."""
        if tool == "ruff":
            rule = self._ruff_rules.get(code)
            if rule is None:
                raise KeyError(f"ruff has no rule {code!r} (ruff rule --all lists them)")
            return f"# {rule['name']} ({code})\n\n{rule.get('explanation') or rule['summary']}"
        if tool == "bandit":
            rule = self._bandit_rules.get(code)
            if rule is None:
                raise KeyError(f"bandit has no test {code!r} (bandit -h lists them)")
            return f"# {rule['name']} ({code})\n\n{rule['doc']}"
        raise KeyError(f"unknown tool {tool!r}; the python pack documents 'ruff' and 'bandit'")

    # -- mutation --------------------------------------------------------------------------
    def mutate(self, source: str, *, seed: int) -> str:
        """One AST mutant of `source` picked by `seed` (operators and pruning:
        `cetd_lib.mutation`); raises ValueError when nothing in it can be mutated."""
        from cetd_lib.mutation import mutate_once

        return mutate_once(source, seed=seed)
