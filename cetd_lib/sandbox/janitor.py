"""Cleanup that runs when this process is gone, however it ends.

A `/bin/sh` child waits for EOF on a pipe only this process holds; the kernel closes that pipe
even after SIGKILL, when no atexit handler or `finally` runs (a notebook kernel killed by nbval
or papermill). The shell then runs its cleanup. Used for sandbox roots (pool) and model servers
(llama_server).
"""

from __future__ import annotations

import subprocess


def start_janitor(cleanup: str, argument: str) -> subprocess.Popen:
    """Start a shell that runs `cleanup` (with `$0` = `argument`) once this process has exited.
    Kill the returned process to cancel it after cleaning up yourself."""
    return subprocess.Popen(
        ["/bin/sh", "-c", f"read -r _; {cleanup}", argument],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to our process group must not stop it first
        close_fds=True,
    )
