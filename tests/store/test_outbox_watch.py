"""OutboxWatch: the subscriptions of one app in a process share one poll per interval."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pymongo.errors import PyMongoError

from app.store import outbox
from app.store.client import Store
from app.store.outbox_watch import OutboxWatch
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant, unreachable_store
from tests.identity_ops import UPSERT

INTERVAL = 0.05


async def test_waiters_at_one_position_share_one_poll(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    start = await outbox.number_handed_out(store, tenant.app_id)
    for name in ("w-1", "w-2"):
        await gateway.data(UPSERT, {"input": {"externalUserId": name}}, token=tenant.app_token)
    watch = OutboxWatch(store, INTERVAL)
    try:
        with command_log.recording() as sent:
            pages = await asyncio.gather(*(watch.next_page(tenant.app_id, start) for _ in range(5)))
        assert sent["find outbox_counters"] == 1 and sent["find outbox"] == 1, sent
        assert all(page is pages[0] for page in pages)
        assert [entry["type"] for entry in pages[0].entries] == ["user.created", "user.created"]
        assert pages[0].last_seq == start + 2 and pages[0].more is False
    finally:
        await watch.close()


async def test_each_position_gets_its_own_page(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    start = await outbox.number_handed_out(store, tenant.app_id)
    for name in ("p-1", "p-2"):
        await gateway.data(UPSERT, {"input": {"externalUserId": name}}, token=tenant.app_token)
    watch = OutboxWatch(store, INTERVAL)
    try:
        behind, ahead, current = await asyncio.gather(
            watch.next_page(tenant.app_id, start),
            watch.next_page(tenant.app_id, start + 1),
            watch.next_page(tenant.app_id, start + 2),
        )
        assert [entry["seq"] for entry in behind.entries] == [start + 1, start + 2]
        assert [entry["seq"] for entry in ahead.entries] == [start + 2]
        assert current.entries == [] and current.last_seq == start + 2
    finally:
        await watch.close()


async def test_the_polls_stop_once_nobody_asks(store: Store, tenant: Tenant, command_log: CommandLog) -> None:
    watch = OutboxWatch(store, INTERVAL)
    try:
        position = await outbox.number_handed_out(store, tenant.app_id)
        await watch.next_page(tenant.app_id, position)
        await asyncio.sleep(6 * INTERVAL)  # a whole interval with nobody asking ends the task
        with command_log.recording() as sent:
            await asyncio.sleep(3 * INTERVAL)
        assert sent["find outbox_counters"] == 0, sent
        page = await watch.next_page(tenant.app_id, position)  # a new waiter starts the polls again
        assert page.last_seq == position
    finally:
        await watch.close()


async def test_close_cancels_a_waiter_rather_than_leaving_it_hanging(store: Store, tenant: Tenant) -> None:
    watch = OutboxWatch(store, 10.0)
    waiter = asyncio.create_task(watch.next_page(tenant.app_id, 0))
    await asyncio.sleep(0.01)
    await watch.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 1.0)


async def test_a_waiter_that_leaves_does_not_cancel_the_others(store: Store, tenant: Tenant) -> None:
    watch = OutboxWatch(store, INTERVAL)
    try:
        position = await outbox.number_handed_out(store, tenant.app_id)
        leaving = asyncio.create_task(watch.next_page(tenant.app_id, position))
        staying = asyncio.create_task(watch.next_page(tenant.app_id, position))
        await asyncio.sleep(0.01)
        leaving.cancel()
        assert (await asyncio.wait_for(staying, 1.0)).last_seq == position
    finally:
        await watch.close()


async def test_a_failed_poll_answers_nothing_new_and_the_waiters_carry_on(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """A store that does not answer (stalled behind a long transaction on the embedded store,
    or gone): the waiters get no events, at their own positions, and one warning is logged,
    rather than every subscription of the app ending on one failed read."""
    async with unreachable_store() as unreachable:
        watch = OutboxWatch(unreachable, INTERVAL)
        try:
            with caplog.at_level(logging.WARNING, logger="app.store.outbox_watch"):
                pages = await asyncio.gather(watch.next_page(tenant.app_id, 3), watch.next_page(tenant.app_id, 7))
            assert [(page.entries, page.last_seq, page.more) for page in pages] == [([], 3, False), ([], 7, False)]
            warnings = [record.getMessage() for record in caplog.records]
            assert warnings == ["outbox poll failed; trying again at the next one"]
        finally:
            await watch.close()


async def test_reads_at_once_at_one_position_are_shared_for_an_interval(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    start = await outbox.number_handed_out(store, tenant.app_id)
    await gateway.data(UPSERT, {"input": {"externalUserId": "now-1"}}, token=tenant.app_token)
    watch = OutboxWatch(store, 0.5)
    try:
        with command_log.recording() as sent:
            together = await asyncio.gather(*(watch.page_now(tenant.app_id, start) for _ in range(3)))
            later = await watch.page_now(tenant.app_id, start)  # a slower subscriber, within the interval
        assert sent["find outbox"] == 1, sent
        assert all(page is later for page in together)
        assert [entry["seq"] for entry in later.entries] == [start + 1]
    finally:
        await watch.close()


async def test_close_after_a_failed_read_does_not_raise(tenant: Tenant) -> None:
    async with unreachable_store() as unreachable:
        watch = OutboxWatch(unreachable, 10.0)
        try:
            with pytest.raises(PyMongoError):
                await watch.page_now(tenant.app_id, 0)
        finally:
            await watch.close()  # the failed read is still kept for the interval
