"""Progress a person can see: durations, tqdm bars, and whether the kernel runs headless.

Low in the layering (tqdm only), so generation, training and reports can all show progress.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

# Set by `python -m cetd_lib run` for the kernel papermill starts: nobody watches that kernel's
# figures while it runs, its printed lines reach the terminal.
HEADLESS_ENV = "CETD_HEADLESS"


def headless() -> bool:
    """True when a `python -m cetd_lib run` launched this process's kernel."""
    return os.environ.get(HEADLESS_ENV) == "1"


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`: short enough for a progress line.

    >>> [format_duration(s) for s in (4.2, 185, 3725)]
    ['4s', '3m05s', '1h02m']
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_bar(iterable: Iterable[Any], *, desc: str, total: int | None = None) -> Iterable[Any]:
    """tqdm over `iterable`: the notebook widget in JupyterLab, a line on stderr refreshed at most
    every 10 s headless (a papermill run streams it to the terminal)."""
    if headless():
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, file=sys.stderr, mininterval=10, ascii=True)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total)
