"""One poll of an app's outbox per interval per process, shared by everyone waiting on it.

Every open ``userChanges`` subscription polls its app's outbox (app/store/outbox.py). Each
polling on its own, a hundred subscriptions of one app (a mobile app's signed-in users,
each watching their own profile) made a hundred counter reads per interval, and once any
user of the app changed, a hundred reads of the same outbox range. Here they share one
poll: the first waiter of an app starts a task that, once per interval, reads the app's
counter and, if it moved past where the waiters are, the page after that position (one
read per distinct position; waiters that keep up share one). Each waiter gets the page
for its own position. The task ends at the first poll that nobody waits for.

A burst (an import, a bulk upsert of a thousand users) leaves more than a page to read:
then the waiters ask for the next page at once, and those at one position share one read
(``page_now``), so a backlog is read once per process, not once per subscription.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo.errors import PyMongoError

from app.store import outbox
from app.store.client import Store

log = logging.getLogger(__name__)

PAGE_SIZE = 500


@dataclass(slots=True)
class _AppWatch:
    waiting: dict[int, asyncio.Future[outbox.Page]] = field(default_factory=dict)  # by position
    task: asyncio.Task[None] | None = None


class OutboxWatch:
    """The shared polls of one process (one per SubscriptionView)."""

    def __init__(self, store: Store, interval_seconds: float) -> None:
        self.store = store
        self.interval = interval_seconds
        self._apps: dict[str, _AppWatch] = {}
        self._reading: dict[tuple[str, int], asyncio.Task[outbox.Page]] = {}

    async def next_page(self, app_id: str, after: int) -> outbox.Page:
        """The app's events after ``after`` as the next poll finds them, at most one interval
        from now: an empty page at ``after`` when nothing new has committed, or when the store
        failed to answer the poll (logged)."""
        watch = self._apps.get(app_id)
        if watch is None:
            watch = self._apps[app_id] = _AppWatch()
            watch.task = asyncio.create_task(self._poll_while_asked(app_id, watch))
        page = watch.waiting.get(after)
        if page is None:
            page = watch.waiting[after] = asyncio.get_running_loop().create_future()
        # Shielded: a subscription that closes must not cancel the others' poll.
        return await asyncio.shield(page)

    async def page_now(self, app_id: str, after: int) -> outbox.Page:
        """The app's events after ``after``, read now or at most one interval ago: callers
        at one position share the read (those that took longer over the page before get
        it when done), as they share a poll."""
        key = (app_id, after)
        reading = self._reading.get(key)
        if reading is None:
            now = datetime.now(UTC)
            reading = asyncio.create_task(outbox.read(self.store, app_id, after, PAGE_SIZE, now))
            self._reading[key] = reading
            loop = asyncio.get_running_loop()
            reading.add_done_callback(lambda _: loop.call_later(self.interval, self._reading.pop, key, None))
        # Shielded, as in next_page: one caller leaving does not cancel the others' read.
        return await asyncio.shield(reading)

    async def _poll_while_asked(self, app_id: str, watch: _AppWatch) -> None:
        answering: dict[int, asyncio.Future[outbox.Page]] = {}
        try:
            while True:
                await asyncio.sleep(self.interval)
                # Who asks from here on is answered by the next poll.
                answering, watch.waiting = watch.waiting, {}
                if not answering:
                    return  # everyone left (a subscription asks again as soon as it is answered)
                try:
                    pages = await self._poll(app_id, sorted(answering))
                except PyMongoError as error:
                    # A stalled or unreachable store: nothing new this time. The waiters carry
                    # on (re-checking their credentials, which fails them if the store stays
                    # down) rather than every subscription of the app ending on one hiccup.
                    failure = {"app_id": app_id, "error": type(error).__name__}
                    log.warning("outbox poll failed; trying again at the next one", extra=failure)
                    pages = {position: outbox.Page([], position, False) for position in answering}
                except Exception as error:  # a bug: the waiters' to report, as a read of their own would
                    for waiter in answering.values():
                        waiter.set_exception(error)
                        waiter.exception()  # retrieved here too: a waiter that left will not
                    continue
                for position, waiter in answering.items():
                    waiter.set_result(pages[position])
        finally:
            if self._apps.get(app_id) is watch:
                del self._apps[app_id]
            for waiter in (*answering.values(), *watch.waiting.values()):  # cancelled mid-poll
                waiter.cancel()

    async def _poll(self, app_id: str, positions: list[int]) -> dict[int, outbox.Page]:
        handed_out = await outbox.number_handed_out(self.store, app_id)
        now = datetime.now(UTC)
        pages: dict[int, outbox.Page] = {}
        for position in positions:
            if handed_out <= position:
                pages[position] = outbox.Page([], position, False)
            else:
                pages[position] = await outbox.read(self.store, app_id, position, PAGE_SIZE, now)
        return pages

    async def close(self) -> None:
        """Stop every poll and read (at shutdown, before the store closes)."""
        tasks: list[asyncio.Task[object]] = [watch.task for watch in self._apps.values() if watch.task is not None]
        tasks += self._reading.values()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # a kept read may hold its error
