"""One look at an app's event counter per poll interval per process, whoever is waiting.

Every open ``userChanges`` subscription polls its app's counter (app/store/outbox.py). With
a look each, a hundred idle subscriptions of one app made a hundred point reads per
interval; here they share one: the first waiter of an app starts a task that reads the
counter once per interval and hands each read to everyone waiting for it, and the task
ends when nobody has waited for a whole interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from app.store import outbox
from app.store.client import Store


@dataclass(slots=True)
class _AppWatch:
    next_look: asyncio.Future[int]
    waiters: int = 0
    task: asyncio.Task[None] | None = field(default=None)


class CounterWatch:
    """The shared looks of one process (one per SubscriptionView)."""

    def __init__(self, store: Store, interval_seconds: float) -> None:
        self.store = store
        self.interval = interval_seconds
        self._apps: dict[str, _AppWatch] = {}

    async def next_look(self, app_id: str) -> int:
        """The app's counter as read at its next look, at most one interval from now. A store
        error of that look is raised to every waiter."""
        watch = self._apps.get(app_id)
        if watch is None:
            watch = _AppWatch(asyncio.get_running_loop().create_future())
            watch.task = asyncio.create_task(self._look_while_waited_for(app_id, watch))
            self._apps[app_id] = watch
        watch.waiters += 1
        try:
            # Shielded: a subscription that closes must not cancel the others' look.
            return await asyncio.shield(watch.next_look)
        finally:
            watch.waiters -= 1

    async def _look_while_waited_for(self, app_id: str, watch: _AppWatch) -> None:
        loop = asyncio.get_running_loop()
        looked = watch.next_look
        try:
            while True:
                await asyncio.sleep(self.interval)
                # Who asks from here on waits for the look after this one.
                looked, watch.next_look = watch.next_look, loop.create_future()
                try:
                    looked.set_result(await outbox.number_handed_out(self.store, app_id))
                except Exception as error:  # the waiters' to handle, as a read of their own would be
                    looked.set_exception(error)
                    if watch.waiters == 0:
                        looked.exception()  # nobody will: mark it retrieved
                if watch.waiters == 0:
                    return  # nobody waited for this look; the next waiter starts a new task
        finally:
            if self._apps.get(app_id) is watch:
                del self._apps[app_id]
            for future in (looked, watch.next_look):  # cancelled mid-read: nobody is left hanging
                future.cancel()

    async def close(self) -> None:
        """Stop every look (at shutdown, before the store closes)."""
        tasks = [watch.task for watch in self._apps.values() if watch.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
