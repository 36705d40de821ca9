"""A size-bounded LRU cache whose entries also expire after a time-to-live."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

_MISSING = object()


class TTLCache:
    """LRU cache with per-entry expiry.

    Time is read exclusively from the ``clock`` callable supplied by the
    caller.  An entry written at time ``t`` with lifetime ``ttl`` is alive
    while ``clock() < t + ttl`` and considered expired from ``t + ttl`` on.
    """

    def __init__(self, capacity: int, ttl: float, clock: Callable[[], float]) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.capacity = capacity
        self.default_ttl = ttl
        self._clock = clock
        # key -> (value, expires_at); order is least- to most-recently used
        self._data: "OrderedDict[Hashable, tuple[Any, float]]" = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    # -- internal helpers -------------------------------------------------
    def _is_expired(self, expires_at: float) -> bool:
        return self._clock() >= expires_at

    # -- public API -------------------------------------------------------
    def put(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        lifetime = self.default_ttl if ttl is None else ttl
        if lifetime <= 0:
            raise ValueError("ttl must be positive")
        expires_at = self._clock() + lifetime
        if key in self._data:
            self._data[key] = (value, expires_at)
            self._data.move_to_end(key)
            return
        if len(self._data) >= self.capacity:
            self.purge_expired()
        while len(self._data) >= self.capacity:
            self._data.popitem(last=False)
            self.evictions += 1
        self._data[key] = (value, expires_at)

    def get(self, key: Hashable, default: Any = None) -> Any:
        entry = self._data.get(key, _MISSING)
        if entry is _MISSING:
            self.misses += 1
            return default
        value, expires_at = entry
        if self._is_expired(expires_at):
            del self._data[key]
            self.misses += 1
            return default
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def delete(self, key: Hashable) -> bool:
        return self._data.pop(key, _MISSING) is not _MISSING

    def ttl_remaining(self, key: Hashable) -> float | None:
        entry = self._data.get(key)
        if entry is None or self._is_expired(entry[1]):
            return None
        return entry[1] - self._clock()

    def purge_expired(self) -> int:
        dead = [k for k, (_, exp) in self._data.items() if self._is_expired(exp)]
        for k in dead:
            del self._data[k]
        return len(dead)

    def keys(self) -> list:
        self.purge_expired()
        return list(self._data.keys())

    def clear(self) -> None:
        self._data.clear()

    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __contains__(self, key: object) -> bool:
        entry = self._data.get(key)  # type: ignore[arg-type]
        return entry is not None and not self._is_expired(entry[1])

    def __len__(self) -> int:
        return sum(1 for _, exp in self._data.values() if not self._is_expired(exp))


def memoize(cache: TTLCache) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator caching a function's results in ``cache`` keyed by positional args."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            key = (func.__name__,) + args
            found = cache.get(key, _MISSING)
            if found is not _MISSING:
                return found
            result = func(*args)
            cache.put(key, result)
            return result

        wrapper.__name__ = func.__name__
        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        return wrapper

    return decorate
