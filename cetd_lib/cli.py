"""Commands of `python -m cetd_lib` besides `run`: the pipeline's entry points.

They live in this top layer because they read params files (`cetd_lib.params` knows every
section) and start run records; the packages they drive never import params themselves.
Heavy modules (torch, transformers) are imported inside each command so `run` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cetd_lib.params import ParamsError
from cetd_lib.session import Session, start

COMMANDS_HELP = {
    "validate-apps": "run every app's tests on its own source; exit 1 if any fail",
    "multitask-data": "build the multi-task data sets into a new run record",
    "multitask-train": "train the shared multi-task model by curriculum",
    "mutation-rl": "RL on the mutation kill rate; held-out score before/after",
    "study": "run a study of cetd_lib.studies (phase1, phase2, ...) without its notebook",
}

#: `python -m cetd_lib study <name>`: the modules of cetd_lib.studies with `run(session)`.
STUDIES = ("phase1", "phase2", "ablation", "calibration", "error_analysis", "multitask",
           "mutation_rl", "review")  # fmt: skip


def _run_study(name: str, session: Session) -> Any:
    """`cetd_lib.studies.<name>.run(session)`: it completes the run; an exception marks the
    run failed (and propagates)."""
    module = importlib.import_module(f"cetd_lib.studies.{name}")
    try:
        return module.run(session)
    except BaseException:
        session.run.finish("failed")
        raise


def study(argv: Sequence[str] | None = None) -> int:
    """`python -m cetd_lib study phase2 --params params/smoke.yaml [-p k=v] [--run-id ID]`: the
    same `cetd_lib.studies.<name>.run` the notebook calls, into a run record of that kind."""
    parser = argparse.ArgumentParser(
        prog="python -m cetd_lib study", description=COMMANDS_HELP["study"]
    )
    parser.add_argument("name", choices=STUDIES)
    parser.add_argument("--params", type=Path, required=True, help="a params/*.yaml file")
    parser.add_argument("-p", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one params field")  # fmt: skip
    parser.add_argument("--run-id", default="", help="resume an incomplete run (default: new)")
    args = parser.parse_args(argv)
    try:
        s = start(args.params, args.run_id, args.overrides, kind=args.name)
    except ParamsError as exc:
        print(f"invalid params: {exc}", file=sys.stderr)
        return 2
    _run_study(args.name, s)
    print("run record:", s.run.dir)
    print("report:", s.run.dir / "report.md")
    return 0


def validate_apps(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cetd_lib validate-apps", description=COMMANDS_HELP["validate-apps"]
    )
    parser.add_argument(
        "--apps", type=Path, default=None, help="apps directory (default: the bundled apps)"
    )
    parser.add_argument(
        "--humaneval", action="store_true", help="also check the 164 HumanEval apps"
    )
    parser.add_argument(
        "--include-holdout", action="store_true", help="also check apps under <apps>/holdout/"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel runner workers (default: the runner's choice)",
    )
    return _validate_apps(parser.parse_args(argv))


def _validate_apps(args: argparse.Namespace) -> int:
    from cetd_lib.apps.app import AppFormatError, bundled_apps_dir, load_apps
    from cetd_lib.sandbox.runner import run_many  # the one runner for untrusted code

    try:
        apps = load_apps(args.apps, include_holdout=args.include_holdout)
        if args.humaneval:
            from cetd_lib.apps.humaneval import load_humaneval_apps

            apps += load_humaneval_apps()
    except AppFormatError as exc:
        print(f"invalid app: {exc}", file=sys.stderr)
        return 2
    if not apps:
        print(f"no apps found under {args.apps or bundled_apps_dir()}", file=sys.stderr)
        return 1

    results = run_many([(app.sources, app.tests) for app in apps], workers=args.workers)
    width = max(len(app.app_id) for app in apps)
    print(f"{'app':<{width}}  {'origin':<9}  {'passed':>7}  {'rate':>6}  first failure")
    failing = []
    for app, result in zip(apps, results, strict=True):
        outcomes = result.per_test
        passed = sum(outcome.passed for outcome in outcomes.values())
        failures = [(name, o.failure_class) for name, o in outcomes.items() if not o.passed]
        if failures or not outcomes:
            failing.append(app.app_id)
        first = f"{failures[0][0]} ({failures[0][1]})" if failures else ""
        if not outcomes:
            first = "no test ran"
        print(
            f"{app.app_id:<{width}}  {app.origin:<9}  {passed:>3}/{len(outcomes):<3}  "
            f"{result.pass_rate:>6.1%}  {first}"
        )
    verdict = "OK" if not failing else f"FAILED: {', '.join(failing)}"
    print(f"{len(apps) - len(failing)}/{len(apps)} apps pass all their own tests; {verdict}")
    return 1 if failing else 0


def multitask_data(argv: Sequence[str] | None = None) -> int:
    from cetd_lib.apps.splits import SPLITS
    from cetd_lib.multitask.data import build as data_build

    parser = argparse.ArgumentParser(
        prog="python -m cetd_lib multitask-data",
        description=data_build.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("build", help="build every set into a new run record")
    cmd.add_argument("--params", type=Path, default=None, help="params YAML (default: defaults)")
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. multitask_data.stdlib_max_files=50",
    )
    cmd.add_argument("--run-id", default=None, help="run id (default: a fresh one)")
    args = parser.parse_args(argv)
    try:
        s = start(args.params, args.run_id, args.set, kind="mtdata")
    except ParamsError as exc:
        print(f"invalid params: {exc}", file=sys.stderr)
        return 2
    record = s.run
    sheet = data_build.build(s.params.multitask_data, record, apps_dir=s.params.data.apps_dir)
    print(f"run {record.run_id}: {record.dir}")
    print(f"dataset {sheet['version']} content hash {sheet['content_hash'][:16]}")
    for name, counts in sheet["counts"].items():
        print(f"  {name:<14} " + "  ".join(f"{s}={counts[s]}" for s in SPLITS))
    print(f"  skipped {sheet['skipped']['count']} (listed in artifacts/datasheet.json)")
    return 0


def multitask_train(argv: Sequence[str] | None = None) -> int:
    from cetd_lib.multitask import train

    parser = argparse.ArgumentParser(
        prog="python -m cetd_lib multitask-train",
        description=train.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--params", type=Path, default=None, help="params YAML")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override, e.g. multitask_train.joint_epochs=3")  # fmt: skip
    parser.add_argument("--run-id", default=None, help="run id (default: a fresh one)")
    args = parser.parse_args(argv)
    try:
        s = start(args.params, args.run_id, args.set, kind="multitask")
    except ParamsError as exc:
        print(f"invalid params: {exc}", file=sys.stderr)
        return 2
    results = _run_study("multitask", s)
    print(f"run {s.run.run_id}: {s.run.dir}")
    print("training report:", results.training_report)
    print(json.dumps(train.summary_table(results.evaluation), indent=2))
    return 0


def mutation_rl(argv: Sequence[str] | None = None) -> int:
    """`python -m cetd_lib mutation-rl --params params/smoke.yaml [--run-id ID] [--set k=v]`."""

    parser = argparse.ArgumentParser(
        prog="python -m cetd_lib mutation-rl",
        description="RL on the mutation kill rate; held-out score before/after -> a run record.",
    )
    parser.add_argument("--params", required=True, help="a params/*.yaml file")
    parser.add_argument("--run-id", default="", help="resume or name the run (default: new)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    s = start(args.params, args.run_id, args.set, kind="mutation_rl")
    results = _run_study("mutation_rl", s)
    print(results.rl_summary["mutation_rl/verdict"])
    print("run record:", s.run.dir)
    print("training report:", results.training_report)
    return 0


COMMANDS = {
    "validate-apps": validate_apps,
    "multitask-data": multitask_data,
    "multitask-train": multitask_train,
    "mutation-rl": mutation_rl,
    "study": study,
}
