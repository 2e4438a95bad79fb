"""Bearer tokens this process has verified, so that a client repeating its token costs one
look-up instead of three decodes and an HMAC.

An entry is used only when the key that signed it is still active with the same secret (the
caller resolves the key first, through the app-key cache, so a revocation applies as it
always did), and only while the token's ``exp`` and ``nbf`` still hold; otherwise the token is
verified again from scratch, which also gives the usual error. Only verified tokens enter,
each under its exact text, so a forged token never matches one. Bounded: the least recently
used goes first, and tokens longer than ``MAX_TOKEN_LENGTH`` are not kept.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

MAX_ENTRIES: Final = 2_048
MAX_TOKEN_LENGTH: Final = 2_048


@dataclass(frozen=True, slots=True)
class Verified:
    key_id: str | None  # None: the admin secret signed it
    secret: str
    claims: dict[str, Any]
    rules: tuple[Any, ...]  # the settings it was verified under (audience, lifetimes)


class VerifiedTokens:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, Verified] = OrderedDict()

    def get(self, token: str, leeway_seconds: int) -> Verified | None:
        """The verification of ``token``, if it is kept and its times still hold."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = time.time()
        expires, not_before = entry.claims["exp"], entry.claims.get("nbf")
        if now >= expires + leeway_seconds or (not_before is not None and now + leeway_seconds < not_before):
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry

    def put(self, token: str, verified: Verified) -> None:
        if len(token) > MAX_TOKEN_LENGTH or self._max_entries <= 0:
            return
        self._entries[token] = verified
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def still_valid(entry: Verified, key_id: str | None, secret: str, rules: tuple[Any, ...]) -> bool:
    """Whether ``entry`` was verified with this key and secret under these rules."""
    same_secret = hmac.compare_digest(entry.secret.encode(), secret.encode())
    return entry.key_id == key_id and entry.rules == rules and same_secret
