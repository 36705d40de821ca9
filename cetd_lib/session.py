"""What the first cell of every notebook calls: params + seed + run record in one step."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cetd_lib.params import Params, load_params
from cetd_lib.tracking.runs import RunRecord, detect_device, set_seed


@dataclass
class Session:
    params: Params
    run: RunRecord
    device: str


def start(
    params_file: str | Path | None,
    run_id: str | None = None,
    overrides: list[str] | None = None,
    *,
    kind: str = "run",
) -> Session:
    """Load params, seed everything and open (or resume) the run record `run_id`.

    An empty `run_id` starts a fresh run. A given one is created, or resumed when it exists and
    did not complete (the `python -m cetd_lib run` wrapper creates it before papermill starts).
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params(params_file, overrides or [])
    set_seed(params.run.seed)
    device = detect_device(params.run.device)
    run = RunRecord.open(
        params.run.outputs_dir,
        run_id or None,
        kind=kind,
        params_yaml=params.to_yaml(),
        seed=params.run.seed,
        device=device,
        resume=bool(run_id),
    )
    return Session(params=params, run=run, device=device)
