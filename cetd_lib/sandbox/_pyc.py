"""Which test files pytest rewrites, and whether pyc bytes belong to a source.

Standard library only: used by the pool (`bytecode.py`) and, imported from its own directory, by
the worker script (`_worker.py`), so both sides apply the same rule.
"""

from __future__ import annotations

import fnmatch
import importlib.util

# pytest's pyc layout (assertion/rewrite.py `_write_pyc_fp`): magic, flags 0b11 (a checked
# source hash, PEP 552), 8 bytes of importlib.util.source_hash(source), marshalled code.
PYC_FLAGS = b"\x03\x00\x00\x00"
HEADER_BYTES = 16


def rewritten_by_pytest(name: str) -> bool:
    """Test modules pytest rewrites by default: python_files patterns, and conftest.py."""
    base = name.rsplit("/", 1)[-1]
    return (
        base == "conftest.py"
        or fnmatch.fnmatch(base, "test_*.py")
        or fnmatch.fnmatch(base, "*_test.py")
    )


def pyc_matches(pyc: bytes, source: bytes) -> bool:
    """True if `pyc` is a pytest pyc of this interpreter for exactly `source`."""
    return (
        len(pyc) > HEADER_BYTES
        and pyc[:4] == importlib.util.MAGIC_NUMBER
        and pyc[4:8] == PYC_FLAGS
        and pyc[8:16] == importlib.util.source_hash(source)[:8]
    )
