"""`python -m cetd_lib run notebooks/X.ipynb --params params/smoke.yaml [-p key=value ...]`.

The other commands (`validate-apps`, `multitask-data`, `multitask-train`, `mutation-rl`) are in
`cetd_lib.cli`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cetd_lib.cli import COMMANDS, COMMANDS_HELP
from cetd_lib.params import ParamsError, load_params
from cetd_lib.tracking.progress import HEADLESS_ENV
from cetd_lib.tracking.runs import RunExistsError, RunRecord, new_run_id


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in os.environ (what a kernel started inside inherits), restored on exit."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(
    notebook: Path,
    params_file: Path,
    overrides: list[str],
    run_id: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> RunRecord:
    """Execute `notebook` with papermill into its run directory and return the run record.
    `progress`: show cell progress and stream the cells' printed output to this terminal."""
    import papermill

    params = load_params(params_file, overrides)  # fail before papermill starts a kernel
    declared = set(papermill.inspect_notebook(str(notebook)))
    missing = {"params_file", "run_id", "overrides"} - declared
    if missing:  # papermill would only warn and run with the notebook's defaults
        raise ParamsError(
            f"{notebook}: its `parameters` cell must define {sorted(missing)}; "
            "see the parameters cell of notebooks/phase2.py"
        )
    kind = notebook.stem
    run = RunRecord.open(
        params.run.outputs_dir,
        run_id or new_run_id(kind),
        kind=kind,
        params_yaml=params.to_yaml(),
        seed=params.run.seed,
        resume=resume,
    )
    executed = run.dir / f"{kind}.ipynb"
    try:
        # The terminal sees papermill's cell bar and, as they are printed, the kernel's own
        # lines: live metrics switch from figures to text lines in a kernel started headless.
        with _environment({HEADLESS_ENV: "1"}):
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters={
                    "params_file": str(Path(params_file).resolve()),
                    "run_id": run.run_id,
                    "overrides": list(overrides),
                },
                cwd=str(notebook.parent),
                progress_bar=progress,
                stdout_file=sys.stdout if progress else None,
                stderr_file=sys.stderr if progress else None,
            )
    except BaseException:
        run.finish("failed")
        raise
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cetd_lib")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute a notebook headless into a new run record")
    run_p.add_argument("notebook", type=Path)
    run_p.add_argument("--params", type=Path, required=True, help="YAML file under params/")
    run_p.add_argument(
        "-p",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one params field, e.g. run.seed=7",
    )
    run_p.add_argument("--run-id", default=None, help="default: <notebook>-<time>-<hex>")
    run_p.add_argument("--resume", action="store_true", help="continue an incomplete run")
    run_p.add_argument(
        "--quiet", action="store_true", help="no cell progress and no streamed cell output"
    )
    for name, help_text in COMMANDS_HELP.items():  # each parses its own arguments
        sub.add_parser(name, help=help_text, add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.error(f"notebook not found: {args.notebook}")
    try:
        run = run_notebook(
            args.notebook,
            args.params,
            args.overrides,
            args.run_id,
            args.resume,
            progress=not args.quiet,
        )
    except (ParamsError, RunExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"run record:        {run.dir}")
    print(f"executed notebook: {run.dir / (args.notebook.stem + '.ipynb')}")
    report = run.dir / "report.md"
    if report.exists():
        print(f"report:            {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
