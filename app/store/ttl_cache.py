"""A small per-process read cache: bounded (least recently used goes first), every entry
expires after a fixed time, and misses (``None``) expire sooner than hits.

Used for reads that every request repeats and that change rarely (an app's signing key):
a change made through another process is seen once the entry expires; ``forget`` makes a
change seen at once in the process that made it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

# Negative entries (a key id the store does not know) live at most this long: long enough
# to spare the store a burst of look-ups for the same id, short enough that a key used
# right after it was created elsewhere is not refused for long.
NEGATIVE_SECONDS: Final = 1.0


class Missing:
    """The type of MISSING (a miss, as opposed to a cached None)."""

    pass


MISSING: Final = Missing()


class TtlCache[V]:
    """``get`` returns the cached value (``None`` included) or ``MISSING``. ``seconds = 0``
    turns the cache off. ``generation()`` read before a look-up and passed to ``put`` keeps
    a look-up that raced a ``forget`` from storing what it read before the change."""

    def __init__(
        self,
        seconds: float,
        max_entries: int,
        negative_seconds: float = NEGATIVE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._negative_seconds = min(seconds, negative_seconds)
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self._seconds > 0 and self._max_entries > 0

    def get(self, key: str) -> V | Missing | None:
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return MISSING
        self._entries.move_to_end(key)
        return value

    def generation(self) -> int:
        return self._generation

    def put(self, key: str, value: V | None, generation: int) -> None:
        if not self.enabled or generation != self._generation:
            return
        lifetime = self._seconds if value is not None else self._negative_seconds
        self._entries[key] = (self._clock() + lifetime, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value of ``key``, or what ``load`` reads (cached, misses included)."""
        cached = self.get(key)
        if not isinstance(cached, Missing):
            return cached
        generation = self.generation()
        loaded = await load()
        self.put(key, loaded, generation)
        return loaded

    def forget(self, key: str) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
