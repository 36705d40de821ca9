"""Crash-safe checkpoint writes: the best joint-phase checkpoint and the final export.

Both swap a fully written staging folder in by renames, so a reader never
sees a half-written model; the previous export is kept, not overwritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cetd_lib.multitask.model.backbone import MultitaskModel


def save_atomic(
    model: MultitaskModel,
    target: Path,
    state: dict[str, Any],
    write_config: Callable[[Path, int], Any] | None = None,
) -> None:
    """Save into a staging folder beside `target`, then swap it in by renames: `target` never
    holds a half-written checkpoint (a crash between the two renames leaves the previous one
    in a `.<name>-old-*` folder beside it). `write_config(staging, step)` adds
    training_config.json to the checkpoint before the swap."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    model.save(staging, state)
    if write_config is not None:
        write_config(staging, int(state.get("step", 0)))
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        os.replace(target, retired / target.name)
    os.replace(staging, target)
    if retired is not None:
        shutil.rmtree(retired)


def export_final(best: Path, target: Path) -> Path | None:
    """Copy `best` to `target` atomically; a previous export is kept as `<target>-<mtime>`.
    Returns where the previous export went (None when there was none)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    shutil.copytree(best, staging, dirs_exist_ok=True)
    kept = None
    if target.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(target.stat().st_mtime))
        kept = target.with_name(f"{target.name}-{stamp}")
        suffix = 0
        while kept.exists():
            suffix += 1
            kept = target.with_name(f"{target.name}-{stamp}-{suffix}")
        os.replace(target, kept)
    os.replace(staging, target)
    return kept
