"""How every config dataclass declares a field: a default plus a help string in the field's
metadata, which `cetd_lib.params` shows in errors and docs (TRL's `*Config` dataclasses keep
their help the same way). Standard library only: configs must load without torch."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def help_field(text: str, **kwargs: Any) -> Any:
    """`dataclasses.field(**kwargs)` carrying `text` as its help."""
    return field(metadata={"help": text}, **kwargs)
