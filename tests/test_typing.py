"""Orchestration parameters carry their project type, not `Any`, so the import-linter layer
contract sees the real dependency (STYLE.md: "Type what you pass")."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cetd_lib"

#: parameter name -> the project type it must carry (every one of them sits in a layer the
#: functions that take it may import).
TYPED = {
    "harness": "HarnessConfig",
    "orchestra": "OrchestraConfig",
    "run": "RunRecord",
    "live": "LiveMetrics",
    "data_config": "DataConfig",
    "params": "Params",
    "cache": "ResultCache",
    "extractor": "RequirementExtractor",
    "scorer": "AnswerScorer",
    "backend": "Backend",
}

#: What is still `Any`, and why; the list may only shrink (the test fails on a stale entry).
REMAINING: set[str] = set()


def any_typed(package: Path = PACKAGE) -> set[str]:
    """`module.function(parameter)` for every TYPED parameter annotated `Any` (or `Any | None`)."""
    found = set()
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            a = node.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs):
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg in TYPED and annotation in ("Any", "Any | None", "Optional[Any]"):
                    found.add(f"{module}.{node.name}({arg.arg})")
    return found


def test_no_orchestration_parameter_is_any_where_its_project_type_exists():
    found = any_typed()
    new = sorted(found - REMAINING)
    assert not new, f"typed Any, give them their project type ({TYPED}): {new}"
    stale = sorted(REMAINING - found)
    assert not stale, f"typed now: remove from REMAINING: {stale}"


def test_the_check_sees_an_any_parameter(tmp_path):
    pkg = tmp_path / "cetd_lib"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "from typing import Any\n"
        "def f(harness: Any, run: 'RunRecord', *, live: Any | None = None, other: Any = 1): ...\n"
    )
    assert any_typed(pkg) == {"cetd_lib.m.f(harness)", "cetd_lib.m.f(live)"}
