"""Re-checks of a live connection's credential (key not revoked, session not voided), shared by
every connection of the process that presents the same credential.

A websocket connection re-checks its credential once per interval, and one caller may open
many connections (up to the per-app limit) with one session token. Checked per connection,
that was one store read per connection per interval; shared, it is one per credential,
however many connections present it. Concurrent re-checks of one credential wait for the
same read; a read that fails is not kept, so the next re-check tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.auth.authenticate import authenticate
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.store.client import Store
from app.store.ttl_cache import TtlCache


class CredentialRechecks:
    def __init__(
        self, settings: Settings, store: Store, box: SecretBox, interval: float, max_entries: int = 10_000
    ) -> None:
        self.settings = settings
        self.store = store
        self.box = box
        # A check under way or done, by credential: kept for one interval, the oldest dropped first.
        self._checks: TtlCache[asyncio.Future[bool]] = TtlCache(interval, max_entries)

    async def still_valid(self, headers: Mapping[str, str]) -> bool:
        """Whether the credential in ``headers`` still passes authentication, read from the
        store at most once per interval for all the connections that present it."""
        credential = dict(sorted(headers.items()))
        key = repr(tuple(credential.items()))  # unambiguous, whatever the header values hold
        check = self._checks.get(key)
        if not isinstance(check, asyncio.Future):
            check = asyncio.ensure_future(self._check(key, credential))
            self._checks.put(key, check, self._checks.generation())
        # shield: one waiter that is cancelled (its connection closed) leaves the read to the others.
        return await asyncio.shield(check)

    async def _check(self, key: str, credential: dict[str, str]) -> bool:
        try:
            await authenticate(credential, self.settings, self.store, self.box)
        except InvalidToken:
            return False
        except BaseException:
            if self._checks.get(key) is asyncio.current_task():
                self._checks.forget(key)  # not kept: the next re-check reads again
            raise
        return True
