"""CounterWatch: the subscriptions of one app in a process share one counter look per interval."""

from __future__ import annotations

import asyncio

import pytest

from app.store import outbox
from app.store.client import Store
from app.store.counter_watch import CounterWatch
from tests.commands import CommandLog
from tests.helpers import Tenant

INTERVAL = 0.05


async def test_waiters_of_one_app_share_one_read(store: Store, tenant: Tenant, command_log: CommandLog) -> None:
    watch = CounterWatch(store, INTERVAL)
    try:
        with command_log.recording() as sent:
            looks = await asyncio.gather(*(watch.next_look(tenant.app_id) for _ in range(5)))
        assert looks == [await outbox.number_handed_out(store, tenant.app_id)] * 5
        assert sent["find outbox_counters"] == 1, sent
    finally:
        await watch.close()


async def test_the_looks_stop_once_nobody_waits(store: Store, tenant: Tenant, command_log: CommandLog) -> None:
    watch = CounterWatch(store, INTERVAL)
    try:
        await watch.next_look(tenant.app_id)
        await asyncio.sleep(6 * INTERVAL)  # the look after the last waiter left had no waiter
        with command_log.recording() as sent:
            await asyncio.sleep(3 * INTERVAL)
        assert sent["find outbox_counters"] == 0, sent
        assert await watch.next_look(tenant.app_id) >= 0  # a new waiter starts the looks again
    finally:
        await watch.close()


async def test_close_cancels_a_waiter_rather_than_leaving_it_hanging(store: Store, tenant: Tenant) -> None:
    watch = CounterWatch(store, 10.0)
    waiter = asyncio.create_task(watch.next_look(tenant.app_id))
    await asyncio.sleep(0.01)
    await watch.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 1.0)


async def test_a_waiter_that_leaves_does_not_cancel_the_others(store: Store, tenant: Tenant) -> None:
    watch = CounterWatch(store, INTERVAL)
    try:
        leaving = asyncio.create_task(watch.next_look(tenant.app_id))
        staying = asyncio.create_task(watch.next_look(tenant.app_id))
        await asyncio.sleep(0.01)
        leaving.cancel()
        assert await asyncio.wait_for(staying, 1.0) == await outbox.number_handed_out(store, tenant.app_id)
    finally:
        await watch.close()
