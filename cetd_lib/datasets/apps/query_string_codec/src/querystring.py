"""Parse and build URL query strings; a small ordered multi-dict wrapper."""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from percent import quote_plus, unquote


def parse_qsl(query: str) -> list[tuple[str, str]]:
    """Split 'a=1&b=2' into decoded pairs, keeping order and duplicates."""
    query = query.split("#", 1)[0]
    if query.startswith("?"):
        query = query[1:]
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        pairs.append((unquote(key, plus_as_space=True), unquote(value, plus_as_space=True)))
    return pairs


def parse_qs(query: str) -> dict[str, list[str]]:
    """Group decoded values by key; keys appear in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query):
        grouped.setdefault(key, []).append(value)
    return grouped


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_qs(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """Encode params; list/tuple values repeat the key, None emits the bare key."""
    items = params.items() if isinstance(params, Mapping) else params
    parts = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                parts.append(quote_plus(key))
            else:
                parts.append(f"{quote_plus(key)}={quote_plus(_scalar(item))}")
    return "&".join(parts)


class QueryString:
    """Ordered list of (key, value) pairs with dict-like helpers."""

    def __init__(self, query: str = "") -> None:
        self._pairs: list[tuple[str, str]] = parse_qsl(query)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._pairs))

    def keys(self) -> list[str]:
        seen: list[str] = []
        for k, _ in self._pairs:
            if k not in seen:
                seen.append(k)
        return seen

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self._pairs:
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]

    def add(self, key: str, value: Any) -> None:
        self._pairs.append((key, _scalar(value)))

    def set(self, key: str, value: Any) -> None:
        """Replace all values of key, keeping the position of its first occurrence."""
        new_pair = (key, _scalar(value))
        result, placed = [], False
        for pair in self._pairs:
            if pair[0] != key:
                result.append(pair)
            elif not placed:
                result.append(new_pair)
                placed = True
        if not placed:
            result.append(new_pair)
        self._pairs = result

    def remove(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._pairs = [p for p in self._pairs if p[0] != key]

    def to_dict(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for k, v in self._pairs:
            grouped.setdefault(k, []).append(v)
        return grouped

    def __str__(self) -> str:
        return build_qs(self._pairs)
