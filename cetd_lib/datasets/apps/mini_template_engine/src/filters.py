"""Built-in value filters used by `{{ value|name:arg }}` expressions."""
from __future__ import annotations

from typing import Any, Callable


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def escape_html(value: Any) -> str:
    text = _text(value)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        text = text.replace(raw, entity)
    return text


def truncate(value: Any, length: int) -> str:
    text = _text(value)
    return text if len(text) <= length else text[:length] + "..."


def join(value: Any, sep: str = ", ") -> str:
    return sep.join(_text(v) for v in value)


def default(value: Any, fallback: Any = "") -> Any:
    return fallback if value is None or value == "" else value


FILTERS: dict[str, Callable[..., Any]] = {
    "upper": lambda v: _text(v).upper(),
    "lower": lambda v: _text(v).lower(),
    "title": lambda v: _text(v).title(),
    "strip": lambda v: _text(v).strip(),
    "length": lambda v: 0 if v is None else len(v),
    "escape": escape_html,
    "truncate": truncate,
    "join": join,
    "default": default,
}
