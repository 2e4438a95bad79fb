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

Credential = tuple[tuple[str, str], ...]


class CredentialRechecks:
    def __init__(
        self, settings: Settings, store: Store, box: SecretBox, interval: float, max_entries: int = 10_000
    ) -> None:
        self.settings = settings
        self.store = store
        self.box = box
        self.interval = interval
        self.max_entries = max_entries
        self._checks: dict[Credential, tuple[float, asyncio.Future[bool]]] = {}

    async def still_valid(self, headers: Mapping[str, str]) -> bool:
        """Whether the credential in ``headers`` still passes authentication, read from the
        store at most once per interval for all the connections that present it."""
        credential = tuple(sorted(headers.items()))
        now = asyncio.get_running_loop().time()
        checked = self._checks.get(credential)
        if checked is None or now - checked[0] >= self.interval:
            if len(self._checks) >= self.max_entries:
                self._forget_older_than(now - self.interval)
            check: asyncio.Future[bool] = asyncio.ensure_future(self._check(credential))
            self._checks[credential] = (now, check)
        else:
            check = checked[1]
        # shield: one waiter that is cancelled (its connection closed) leaves the read to the others.
        return await asyncio.shield(check)

    async def _check(self, credential: Credential) -> bool:
        try:
            await authenticate(dict(credential), self.settings, self.store, self.box)
        except InvalidToken:
            return False
        except BaseException:
            kept = self._checks.get(credential)
            if kept is not None and kept[1] is asyncio.current_task():
                del self._checks[credential]  # not kept: the next re-check reads again
            raise
        return True

    def _forget_older_than(self, moment: float) -> None:
        for credential in [key for key, (at, _) in self._checks.items() if at < moment]:
            del self._checks[credential]
