"""Benchmark of the mutation engine -> outputs/bench/mutation.json.

One bundled module and its original tests (default: roman_numerals/roman.py), in the SAME run:

- ours: `cetd_lib.mutation.generate_mutants` (every mutant, no sample) + `mutation_score`
  through the sandboxed warm-worker runner, harness cache off, pool started inside the timing;
- mutmut (the `bench` extra of pyproject.toml, installed by `make bench`):
  `mutmut run --max-children <workers>` on a flat copy of the module and its tests (mutmut 3
  runs the tests in forked children with its trampoline, unsandboxed).

Each tool is run on two test suites: the app's full test file ("strong") and the same file cut
to its first `--weak-tests` test functions ("weak"). The operator sets differ (mutmut has its
own), so the two kill rates are not expected to be equal; agreement is reported as the absolute
difference per suite and whether both tools rank strong above weak. Throughput is end to end
(mutant generation + runs) per tool; machines are noisy (FIGURES.md): only the side-by-side
ratio means something.

    .venv/bin/python benchmarks/mutation.py [--app roman_numerals] [--weak-tests 3]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def weaken(test_text: str, keep: int) -> str:
    """The test file with only its first `keep` top-level test functions."""
    tree = ast.parse(test_text)
    kept, body = 0, []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            kept += 1
            if kept > keep:
                continue
        body.append(node)
    tree.body = body
    return ast.unparse(tree) + "\n"


def run_ours(sources: dict[str, str], module: str, tests: dict[str, str], workers: int) -> dict:
    from cetd_lib.mutation import MutationConfig, generate_mutants, mutation_score
    from cetd_lib.sandbox.config import HarnessConfig
    from cetd_lib.sandbox.runner import close_pools

    close_pools()  # pool start-up is part of the timing, as mutmut's is
    harness = HarnessConfig(cache=False, workers=workers)
    started = time.perf_counter()
    mutants = generate_mutants(sources[module], module, MutationConfig(max_mutants=0))
    generated = time.perf_counter()
    score = mutation_score(sources, module, tests, mutants, harness=harness)
    seconds = time.perf_counter() - started
    n = score.killed + score.survived + score.errored
    return {
        "mutants": len(mutants),
        "evaluated": n,
        "killed": score.killed,
        "survived": score.survived,
        "errored": score.errored,
        "killed_by_timeout": score.killed_by_timeout,
        "kill_rate": score.kill_rate,
        "seconds": seconds,
        "generate_seconds": generated - started,
        "mutants_per_s": n / seconds,
        "failure_class": score.failure_class,
    }


def run_mutmut(source: str, module: str, test_name: str, test_text: str, workers: int) -> dict:
    """mutmut 3 on a flat temp project; its verdicts read from mutants/<module>.meta."""
    try:
        version = metadata.version("mutmut")
        from mutmut.stats import status_by_exit_code
    except (metadata.PackageNotFoundError, ImportError) as exc:
        return {"available": False, "reason": f"mutmut is not installed in this venv: {exc}"}
    mutmut = Path(sys.executable).with_name("mutmut")
    with tempfile.TemporaryDirectory(prefix="cetd-mutmut-") as tmp:
        project = Path(tmp)
        (project / module).write_text(source)
        (project / "tests").mkdir()
        (project / "tests" / test_name).write_text(test_text)
        (project / "setup.cfg").write_text(
            f"[mutmut]\npaths_to_mutate={module}\ntests_dir=tests/\n"
        )
        started = time.perf_counter()
        # A trusted bundled module and its own tests; the baseline tool must run as itself.
        done = subprocess.run(  # noqa: S603
            [str(mutmut), "run", "--max-children", str(workers)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        seconds = time.perf_counter() - started
        meta = project / "mutants" / f"{module}.meta"
        if done.returncode != 0 or not meta.exists():
            tail = (done.stdout + done.stderr)[-1500:]
            return {
                "available": False,
                "version": version,
                "reason": f"mutmut run exited {done.returncode}: {tail}",
            }
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        own_rate = re.findall(r"([\d.]+) mutations/second", done.stdout.replace("\r", "\n"))
    status = [status_by_exit_code.get(code, f"exit {code}") for code in codes.values()]
    killed = sum(s == "killed" for s in status)
    timeouts = sum(s == "timeout" for s in status)
    # "no tests": no test covers the mutated function, so mutmut never runs it. It is not
    # killed: counted as survived, as our engine (which runs every mutant) would find it.
    uncovered = sum(s == "no tests" for s in status)
    survived = sum(s == "survived" for s in status) + uncovered
    measured = killed + timeouts + survived
    executed = len(codes) - uncovered
    return {
        "available": True,
        "version": version,
        "mutants": len(codes),
        "killed": killed + timeouts,
        "killed_by_timeout": timeouts,
        "survived": survived,
        "not_run_no_covering_test": uncovered,
        "other": len(codes) - measured,
        "kill_rate": (killed + timeouts) / measured if measured else None,
        "seconds": seconds,
        "mutants_per_s": len(codes) / seconds,
        "executed_mutants_per_s": executed / seconds,
        "mutmut_reported_mutations_per_s": float(own_rate[-1]) if own_rate else None,
    }


def atomic_write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default="roman_numerals")
    parser.add_argument("--weak-tests", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "mutation.json"))
    args = parser.parse_args(argv)

    from cetd_lib.apps.app import load_apps

    (app,) = [a for a in load_apps() if a.app_id == args.app]
    module = max(app.sources, key=lambda name: len(app.sources[name]))
    (test_name, test_text), *_ = sorted(app.tests.items())
    suites = {"strong": test_text, "weak": weaken(test_text, args.weak_tests)}
    report: dict = {
        "module": f"{app.app_id}/{module}",
        "module_lines": app.sources[module].count("\n"),
        "test_file": test_name,
        "weak_tests_kept": args.weak_tests,
        "workers": args.workers,
        "load_avg_1m_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "ours": {},
        "mutmut": {},
    }
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # never leave mutmut's dir in the repo
    for suite, text in suites.items():
        report["ours"][suite] = run_ours(app.sources, module, {test_name: text}, args.workers)
        report["mutmut"][suite] = run_mutmut(
            app.sources[module], module, test_name, text, args.workers
        )
        print(suite, json.dumps({k: report[k][suite] for k in ("ours", "mutmut")}, indent=1))
    if all(report["mutmut"][s].get("available") for s in suites):
        ours, theirs = report["ours"], report["mutmut"]
        report["agreement"] = {
            "abs_kill_rate_diff": {
                s: abs(ours[s]["kill_rate"] - theirs[s]["kill_rate"]) for s in suites
            },
            "same_ranking_strong_over_weak": (
                (ours["strong"]["kill_rate"] > ours["weak"]["kill_rate"])
                == (theirs["strong"]["kill_rate"] > theirs["weak"]["kill_rate"])
            ),
        }
        report["speed_ratio_ours_over_mutmut"] = {
            s: ours[s]["mutants_per_s"] / theirs[s]["mutants_per_s"] for s in suites
        }
    else:
        report["agreement"] = None
        report["speed_ratio_ours_over_mutmut"] = None
    report["load_avg_1m_end"] = os.getloadavg()[0]
    atomic_write_json(Path(args.out), report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
