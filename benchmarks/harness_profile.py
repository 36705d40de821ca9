"""Where a sandboxed app's time goes -> outputs/bench/harness_profile.json (issue 27, item 6).

Drives ONE worker in this process (`_worker.Worker`, rlimits-only, its work dir on /dev/shm
like the namespaced workers' tmpfs) over HumanEval's 164 canonical solutions, sequentially, so
per-app costs are not blurred by a second core. Each variant runs in its own Python process
(pytest's config is prepared once per process):

- `on`: the shipped worker, every check of issue 27 on;
- `no_snapshot`: the verdict snapshot check (`VerdictState.changed`) answers "nothing changed";
- `no_comparisons`: the trusted-comparison AST pass is not applied;
- `no_hook`: no audit hook at all (so no run-time denial, verdict channel nor snapshot check);
- `off`: no hook and no comparison pass (the harness as before issue 27, less its screen).

The switches exist only here, by patching the loaded modules before the worker prepares: the
production worker has none. Per variant: `cold` (the worker rewrites every test file: nothing in
a store) and `warm` (the rewritten bytecode supplied, as from the store), best of --rounds, as
ms per app; for `on`, a cProfile of the child (summed over the apps of one warm pass) and of the
worker's rewriting (one cold pass) gives the shares.

    .venv/bin/python benchmarks/harness_profile.py [--rounds 3] [--limit N]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import importlib.util
import json
import marshal
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "cetd_lib" / "sandbox" / "_worker.py"
VARIANTS = ("on", "no_snapshot", "no_comparisons", "no_hook", "off")
PROFILE_MARK = b"CETDPROF "


def _load_worker():
    spec = importlib.util.spec_from_file_location("_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patch(variant: str, worker_mod) -> None:
    """Measurement switches: applied before the worker prepares (and snapshots) anything."""
    import _comparisons
    import _events

    if variant == "no_snapshot":
        _events.VerdictState.changed = lambda self, full=False, ask=None: []
    if variant in ("no_comparisons", "off"):
        _comparisons.apply = lambda tree: None
    if variant in ("no_hook", "off"):

        def install_audit_hook(worker, **kwargs):
            return lambda name: isinstance(name, str) and name.startswith(worker.root + os.sep)

        worker_mod.install_audit_hook = install_audit_hook
        _events.ResultPlugin.seal = lambda self: None  # events written by the plugin itself


def _summarise(stats: dict, top: int) -> list[dict]:
    rows = []
    for (filename, line, name), (_cc, nc, tt, ct, _) in stats.items():
        short = filename
        for prefix in (str(ROOT) + os.sep, sys.prefix + os.sep, sys.base_prefix + os.sep):
            short = short.replace(prefix, "")
        rows.append(
            {"function": f"{short}:{line}({name})", "calls": nc, "tottime": tt, "cumtime": ct}
        )
    rows.sort(key=lambda r: r["tottime"], reverse=True)
    return rows[:top]


def _merge(total: dict, stats: dict) -> None:
    for key, (cc, nc, tt, ct, _) in stats.items():
        old = total.get(key)
        total[key] = (
            (cc, nc, tt, ct, {})
            if old is None
            else (old[0] + cc, old[1] + nc, old[2] + tt, old[3] + ct, {})
        )


def run_variant(variant: str, rounds: int, limit: int, profile: bool) -> dict:
    from cetd_lib.apps.humaneval import load_humaneval_apps

    worker_mod = _load_worker()
    _patch(variant, worker_mod)
    child_profiles: list[bytes] = []
    verify = worker_mod.verify_events

    def verify_events(data: bytes, key: bytes):
        kept = []
        for line in data.split(b"\n"):
            if line.startswith(PROFILE_MARK):
                child_profiles.append(base64.b64decode(line[len(PROFILE_MARK) :]))
            else:
                kept.append(line)
        return verify(b"\n".join(kept), key)

    worker_mod.verify_events = verify_events
    profiling = {"child": False}

    class Worker(worker_mod.Worker):
        def child(self, job):
            if not profiling["child"]:
                return super().child(job)
            prof = cProfile.Profile()
            prof.enable()
            try:
                return super().child(job)
            finally:
                prof.disable()
                prof.create_stats()
                data = base64.b64encode(marshal.dumps(prof.stats))
                os.write(self.events_fd, PROFILE_MARK + data + b"\n")

    apps = load_humaneval_apps()
    if limit:
        apps = apps[:limit]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    base = tempfile.mkdtemp(prefix="cetd-profile-", dir=shm)
    cfg = {
        "root": os.path.join(base, "w"),
        "sandbox": "rlimits-only",
        "preload": [],
        "deny_read": [],
        "max_output_mb": 32,
    }
    from cetd_lib.sandbox.config import HarnessConfig

    cfg["preload"] = list(HarnessConfig().preload_modules)
    worker = Worker(cfg)
    worker.prepare()

    def job(app, pyc=None) -> dict:
        payload = {
            "sources": dict(app.sources),
            "tests": dict(app.tests),
            "timeout_s": 30.0,
            "test_timeout_s": 5.0,
            "coverage": False,
            "generated_tests": False,
        }
        if pyc:
            payload["pyc"] = pyc
        return payload

    def one_pass(pycs: dict | None) -> tuple[float, list[float], dict, int]:
        """(seconds, CPU seconds of the worker then of each child, rewritten bytecode, apps
        not fully passing)."""
        worker.pyc_cache.clear()
        cpu, rewritten, bad = [], {}, 0
        started, cpu_started = time.perf_counter(), time.process_time()
        for app in apps:
            result = worker.run_job(job(app, (pycs or {}).get(app.app_id)), lambda m: None)
            rewritten[app.app_id] = result.get("rewritten") or {}
            cpu.append(result.get("cpu_s") or 0.0)
            events = result.get("events", [])
            reports = [e for e in events if e.get("ev") == "report" and e["when"] == "call"]
            if (
                result.get("forged")
                or result.get("exit_code") != 0
                or not reports
                or any(e["outcome"] != "passed" for e in reports)
                or any(e.get("ev") == "tampered" for e in events)
            ):
                bad += 1
        cpu.insert(0, time.process_time() - cpu_started)
        return time.perf_counter() - started, cpu, rewritten, bad

    cold, warm, cold_cpu, warm_cpu, bad = [], [], [], [], 0
    pycs: dict = {}
    for _ in range(rounds):
        seconds, cpu, rewritten, failed = one_pass(None)
        cold.append(seconds)
        cold_cpu.append(sum(cpu))
        bad += failed
        pycs = rewritten
        seconds, cpu, _, failed = one_pass(pycs)
        warm.append(seconds)
        warm_cpu.append(sum(cpu))
        bad += failed
    n = len(apps)
    report = {
        "variant": variant,
        "n_apps": n,
        "apps_not_passing_or_flagged": bad,
        "cold_ms_per_app": 1000 * min(cold) / n,
        "warm_ms_per_app": 1000 * min(warm) / n,
        # CPU time of the worker (this process) and its children: less sensitive than wall
        # time to other jobs on a shared machine
        "cold_cpu_ms_per_app": 1000 * min(cold_cpu) / n,
        "warm_cpu_ms_per_app": 1000 * min(warm_cpu) / n,
        "rounds_seconds": {"cold": cold, "warm": warm},
    }
    if profile:
        profiling["child"] = True
        child_profiles.clear()
        one_pass(pycs)
        total: dict = {}
        for blob in child_profiles:
            _merge(total, marshal.loads(blob))
        report["child_profile_top"] = _summarise(total, 40)
        report["child_profile_seconds_per_app"] = sum(r[2] for r in total.values()) / n
        profiling["child"] = False
        prof = cProfile.Profile()
        prof.enable()
        one_pass(None)
        prof.disable()
        prof.create_stats()
        report["worker_cold_profile_top"] = _summarise(prof.stats, 40)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "outputs" / "bench" / "harness_profile.json"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, metavar="N")
    # on/off twice, interleaved: the load of a shared machine drifts between processes
    default = ",".join(["on", "off", *VARIANTS[1:-1], "on", "off"])
    parser.add_argument("--variants", default=default)
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in a subprocess
    parser.add_argument("--no-profile", action="store_true", help="timings only")
    args = parser.parse_args(argv)
    if args.variant:
        report = run_variant(
            args.variant, args.rounds, args.limit, args.variant == "on" and not args.no_profile
        )
        sys.stdout.write(json.dumps(report) + "\n")
        return 0
    results = {}
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"--variants: unknown variant {variant!r} (known: {', '.join(VARIANTS)})")
        command = [sys.executable, __file__, "--variant", variant, "--rounds", str(args.rounds)]
        command += ["--limit", str(args.limit)] + (["--no-profile"] if args.no_profile else [])
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        earlier = results.get(variant)
        if earlier is not None:  # a variant run again (interleaved against drift): best of
            for key, value in row.items():
                if key.endswith("_per_app"):
                    earlier[key] = min(earlier[key], value)
            earlier["apps_not_passing_or_flagged"] += row["apps_not_passing_or_flagged"]
            earlier["runs"] += 1
        else:
            results[variant] = dict(row, runs=1)
        print(
            f"{variant:15s} cold {row['cold_ms_per_app']:6.2f} ms/app "
            f"({row['cold_cpu_ms_per_app']:6.2f} CPU)  warm {row['warm_ms_per_app']:6.2f} ms/app "
            f"({row['warm_cpu_ms_per_app']:6.2f} CPU)  not passing/flagged "
            f"{row['apps_not_passing_or_flagged']}",
            flush=True,
        )
    on = results.get("on")
    report = {
        "variants": results,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version(),
        },
        "method": "one in-process worker, rlimits-only, work dir on /dev/shm, sequential; best "
        "of rounds; switches by patching the loaded modules in the profiling process only",
    }
    if on and "off" in results:
        for phase in ("cold", "warm"):
            off = results["off"]
            report[f"checks_cost_{phase}"] = (
                on[f"{phase}_ms_per_app"] / off[f"{phase}_ms_per_app"] - 1
            )
            report[f"checks_cost_{phase}_cpu"] = (
                on[f"{phase}_cpu_ms_per_app"] / off[f"{phase}_cpu_ms_per_app"] - 1
            )
    # What one part costs: the pass with everything on against the pass without that part.
    parts = {"no_snapshot": "snapshot", "no_comparisons": "comparisons", "no_hook": "hook"}
    for variant, part in parts.items():
        if on and variant in results:
            for phase in ("cold", "warm"):
                key = f"{phase}_cpu_ms_per_app"
                report[f"cost_of_{part}_{phase}_cpu"] = on[key] / results[variant][key] - 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "variants"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
