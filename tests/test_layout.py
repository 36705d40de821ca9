"""What the import-linter layers cannot say about the package layout: which names cross the
sandbox's boundary, and that the sandbox's sibling scripts are the ones the verdict check
protects."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cetd_lib.sandbox

PACKAGE = Path(__file__).resolve().parents[1] / "cetd_lib"
SANDBOX = Path(cetd_lib.sandbox.__file__).parent
#: Sandbox modules only the sandbox itself uses: the warm pool and its rewritten-test store.
#: (Tests and benchmarks may reach into them; the library may not.)
SANDBOX_INTERNAL = {"pool", "bytecode"}


def private_sandbox_imports(package: Path = PACKAGE) -> list[str]:
    """`file: what` for each import of a private sandbox module or name from outside it."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.is_relative_to(package / "sandbox"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "cetd_lib.sandbox"
            ):
                parts = node.module.split(".")[2:]
                names = [a.name for a in node.names]
                if not parts:  # from cetd_lib.sandbox import runner
                    parts, names = names, []
                bad = [p for p in parts if p.startswith("_") or p in SANDBOX_INTERNAL]
                bad += [n for n in names if n.startswith("_")]
                if bad:
                    found.append(f"{path.relative_to(package.parent)}: {node.module} {bad}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")[2:]
                    if alias.name.startswith("cetd_lib.sandbox") and any(
                        p.startswith("_") or p in SANDBOX_INTERNAL for p in parts
                    ):
                        found.append(f"{path.relative_to(package.parent)}: {alias.name}")
    return found


def test_nothing_outside_the_sandbox_imports_its_private_modules_or_names():
    assert private_sandbox_imports() == []


def test_the_check_sees_a_private_name_and_a_private_module(tmp_path):
    package = tmp_path / "cetd_lib"
    (package / "reconstruction").mkdir(parents=True)
    (package / "reconstruction" / "loop.py").write_text(
        "from cetd_lib.sandbox.runner import _pool_key, run_many\n"
        "from cetd_lib.sandbox import pool\n"
        "import cetd_lib.sandbox._worker\n"
    )
    (package / "sandbox").mkdir()
    (package / "sandbox" / "runner.py").write_text("from cetd_lib.sandbox.pool import _x\n")
    found = private_sandbox_imports(package)
    assert len(found) == 3, found
    assert "['_pool_key']" in found[0] and "['pool']" in found[1] and "_worker" in found[2]


def test_the_sandbox_scripts_import_siblings_that_exist():
    """The scripts run in the sandbox import each other by file name (`from _events import
    ...`, not through the package): a rename must reach every such import."""
    imported = set()
    for path in SANDBOX.glob("_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
    siblings = {
        m
        for m in imported
        if m.startswith("_") and m not in sys.stdlib_module_names and m != "_pytest"
    }
    assert {"_events", "_audit_hook", "_comparisons", "_namespaces", "_pyc"} <= siblings
    assert [m for m in sorted(siblings) if not (SANDBOX / f"{m}.py").is_file()] == []


def test_every_sibling_script_the_verdict_check_protects_exists():
    """`_events.PROTECTED_MODULES` names the sandbox's scripts as the child imports them (by
    file name); a renamed script left under its old name there would silently go unwatched."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_events_for_test", SANDBOX / "_events.py")
    events = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(events)
    siblings = {
        m for m in (*events.PROTECTED_MODULES, *events.CRITICAL_MODULES) if m.startswith("_")
    }
    siblings = {m for m in siblings if not m.startswith("_pytest")}
    assert siblings == {"_events", "_audit_hook", "_comparisons"}
    for name in siblings:
        assert (SANDBOX / f"{name}.py").is_file(), name
