"""Token buckets in this process's memory, for limits too fine-grained to cost a store round
trip per request (one end user's requests)."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_KEYS = 100_000  # bounded memory: the least recently used key goes first beyond this


class LocalBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate_per_second``. A take is
    synchronous, so concurrent requests of one key cannot both spend its last token."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, when counted)

    def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds until the next token."""
        now = self._clock()
        held = self._buckets.pop(key, None)
        if held is None:
            tokens = float(self.burst)
            while len(self._buckets) >= self._max_keys:
                # An evicted key starts full again; the least recently used has refilled the most.
                del self._buckets[next(iter(self._buckets))]
        else:
            tokens = min(float(self.burst), held[0] + (now - held[1]) * self.rate)
        wait = None if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1 if wait is None else tokens, now)  # most recently used last
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
