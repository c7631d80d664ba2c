"""Thread-safe TTL and LRU cache for unwrapped data keys."""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Entry(Generic[V]):
    __slots__ = ("value", "stored_at", "checked_at")

    def __init__(self, value: V, now: float) -> None:
        self.value = value
        self.stored_at = now
        self.checked_at = now


class TTLCache(Generic[K, V]):
    """Hold values for ttl seconds and ask callers to re-validate every recheck seconds."""

    def __init__(
        self,
        ttl: float = 300.0,
        recheck: float = 5.0,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure lifetimes, capacity and the clock used to measure them."""
        if ttl <= 0 or recheck < 0 or maxsize < 1:
            raise ValueError("ttl and maxsize must be positive and recheck non-negative")
        self.ttl = ttl
        self.recheck = recheck
        self.maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # Values are key material: show only how many there are.
        return f"TTLCache(entries={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, k: K) -> tuple[V, bool] | None:
        """Return (value, needs_recheck) for a live entry, or None."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(k)
            if entry is None:
                return None
            if now - entry.stored_at >= self.ttl:
                del self._entries[k]
                return None
            self._entries.move_to_end(k)
            return entry.value, now - entry.checked_at >= self.recheck

    def put(self, k: K, v: V) -> None:
        """Store v under k, evicting the least recently used entry when full."""
        now = self._clock()
        with self._lock:
            self._entries[k] = _Entry(v, now)
            self._entries.move_to_end(k)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def mark_checked(self, k: K) -> None:
        """Record that k was just re-validated against stored state."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(k)
            if entry is not None:
                entry.checked_at = now

    def pop(self, k: K) -> V | None:
        """Remove k and return its value, or None if absent."""
        with self._lock:
            entry = self._entries.pop(k, None)
        return None if entry is None else entry.value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
