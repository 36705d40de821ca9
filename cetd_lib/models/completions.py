"""What a TRL reward function is handed as a completion, read as the text the model wrote.

One reader for every reward (the reconstruction and likelihood rewards of stage 2, the mutation
kill-rate reward): two copies had drifted apart (one read the last message only, one joined
every message, tool output included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def completion_text(completion: Any) -> str:
    """A plain completion as is; a conversational one (a list of messages) as the content of
    its assistant messages joined (a message without a role counts as the model's), so a tool's
    or user's turn in between is not taken for the model's text.

    >>> completion_text("1. It parses.")
    '1. It parses.'
    >>> completion_text([{"role": "assistant", "content": "def test_a():"},
    ...                  {"role": "tool", "content": "ok"},
    ...                  {"role": "assistant", "content": "\\n    assert a()"}])
    'def test_a():\\n    assert a()'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        return "".join(
            str(m.get("content") or "")
            for m in completion
            if m.get("role", "assistant") == "assistant"
        )
    raise TypeError(
        f"cannot read a completion of type {type(completion).__name__}: expected a string or "
        "a list of chat messages (dicts with role and content)"
    )
