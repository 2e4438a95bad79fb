"""Tokens a process takes from a shared bucket ahead of use, so that a busy app's requests
need not each cost a round trip to the store.

A process takes at once about a quarter of a second of its own recent traffic for the key
(at least one token, at most ``most``) and spends them within ``LEASE_SECONDS``; tokens
still unspent then are lost. Tokens are taken from the store before they are spent, so
over time no process spends more than the bucket's rate; in a moment, N processes may
together exceed a full burst by what they hold, at most N * (most - 1) tokens. Sizing the
take by the process's own traffic keeps the tokens lost small when an app's requests are
spread thinly over many processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

LEASE_SECONDS = 1.0
MAX_KEYS = 100_000  # bounded memory: the least recently seen key goes first beyond this


@dataclass(slots=True)
class _Local:
    tokens: int = 0  # taken from the store, not yet spent
    until: float = 0.0  # when unspent tokens are lost
    second: float = 0.0  # start of the current counting second
    seen: int = 0  # requests in the current second
    seen_before: int = 0  # requests in the second before


class Leases:
    def __init__(self, most: int, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.most = max(1, most)
        self._clock = clock
        self._max_keys = max_keys
        self._keys: dict[str, _Local] = {}

    def count(self, key: str) -> None:
        """Count a request for ``key`` (what the next take is sized by)."""
        local = self._local(key)
        now = self._clock()
        if now - local.second >= 1.0:
            local.seen_before = local.seen if now - local.second < 2.0 else 0
            local.second, local.seen = now, 0
        local.seen += 1

    def spend(self, key: str) -> bool:
        """Whether a token taken earlier pays for a request now (and is spent)."""
        local = self._keys.get(key)
        if local is None or local.tokens <= 0:
            return False
        if self._clock() >= local.until:
            local.tokens = 0
            return False
        local.tokens -= 1
        return True

    def size(self, key: str) -> int:
        """How many tokens to take from the store now."""
        local = self._keys.get(key)
        recent = max(local.seen, local.seen_before) if local is not None else 0
        return max(1, min(self.most, recent // 4))

    def keep(self, key: str, tokens: int) -> None:
        """Tokens taken beyond the one spent at once, to spend within LEASE_SECONDS."""
        local = self._local(key)
        now = self._clock()
        held = local.tokens if now < local.until else 0  # concurrent takes add up
        local.tokens, local.until = held + tokens, now + LEASE_SECONDS

    def __len__(self) -> int:
        return len(self._keys)

    def _local(self, key: str) -> _Local:
        local = self._keys.pop(key, None)
        if local is None:
            local = _Local()
            while len(self._keys) >= self._max_keys:
                del self._keys[next(iter(self._keys))]
        self._keys[key] = local  # most recently seen last
        return local
