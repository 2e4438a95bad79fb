"""What the webhook dispatcher costs its store when there is little to do. Every gateway
process runs one, so an idle round must be cheap: with no endpoint enabled it looks at the
idle rate (and an endpoint created through the gateway is still served at once); with
endpoints, a round that finds nothing to send costs three reads however many endpoints
there are, and a delivery waiting for its retry costs no lease attempt. Each test uses a
database of its own on the test store, so that the endpoints of other tests do not count."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.domain import clock, webhooks
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime, create_app
from app.store import outbox
from app.store import webhooks as webhook_store
from app.store.client import Store, connect
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.events.receiver import Receiver
from tests.events.test_webhooks import UPSERT, DelivererClient, create_endpoint, receiver, runtime, wait_for
from tests.helpers import Gateway

__all__ = ["receiver", "runtime"]  # fixtures

ROUND_READS = {"find webhook_endpoints": 1, "find outbox_counters": 1, "distinct webhook_deliveries": 1}


def _store_uri(runtime: Runtime) -> str:
    embedded = runtime.store.embedded
    uri = embedded._ready.result() if embedded is not None else runtime.settings.mongodb_uri
    assert uri is not None
    return uri


@pytest.fixture
async def own_database(runtime: Runtime) -> AsyncIterator[tuple[Store, CommandLog, Settings]]:
    """A store on a database of this test's own, with its commands logged."""
    name = f"dispatch_{secrets.token_hex(4)}"
    log = CommandLog()
    store = connect(_store_uri(runtime), name, timeout_ms=10_000, listeners=[log])
    settings = runtime.settings.model_copy(update={"database_name": name, "mongodb_uri": _store_uri(runtime)})
    await webhook_store.ensure_indexes(store)
    try:
        yield store, log, settings
    finally:
        await store.client.drop_database(name)
        await store.close()


async def _endpoint(store: Store, deliverer: Dispatcher, app_id: str) -> str:
    url = "http://127.0.0.1:9/x"  # nothing listens there
    created = await webhooks.create(store, deliverer.box, deliverer.policy, app_id, url, None, None, 9)
    return str(created.endpoint["_id"])


def _rounds(sent: list[dict[str, Any]]) -> int:
    """Dispatch rounds begun: each starts with its read of the enabled endpoints."""
    return sum(
        1 for command in sent if command.get("find") == "webhook_endpoints" and command["filter"] == {"enabled": True}
    )


async def _stopped(deliverer: Dispatcher, task: asyncio.Task[None]) -> None:
    deliverer.stop()
    await asyncio.wait_for(task, 5)


async def test_with_no_endpoint_enabled_the_dispatcher_looks_at_the_idle_rate(
    own_database: tuple[Store, CommandLog, Settings], runtime: Runtime
) -> None:
    store, log, settings = own_database
    paced = settings.model_copy(update={"webhook_poll_ms": 20, "webhook_idle_poll_ms": 400})
    deliverer = Dispatcher(store, runtime.box, paced)
    with log.capturing() as sent:
        task = asyncio.create_task(deliverer.run())
        try:
            await asyncio.sleep(1.0)
            idle = _rounds(sent)
            assert 1 <= idle <= 4, idle  # at the busy rate, about 50
            await _endpoint(store, deliverer, "app_a")
            await asyncio.sleep(1.0)  # noticed within one idle delay, then looked at every 20 ms
            assert _rounds(sent) - idle >= 10, sent
        finally:
            await _stopped(deliverer, task)


async def test_wake_starts_the_next_round_at_once(
    own_database: tuple[Store, CommandLog, Settings], runtime: Runtime
) -> None:
    store, log, settings = own_database
    deliverer = Dispatcher(store, runtime.box, settings.model_copy(update={"webhook_idle_poll_ms": 60_000}))
    with log.capturing() as sent:
        task = asyncio.create_task(deliverer.run())
        try:
            await wait_for(lambda: _rounds(sent) == 1, seconds=5)
            await asyncio.sleep(0.2)
            assert _rounds(sent) == 1  # idle: the next round is a minute away
            deliverer.wake()
            await wait_for(lambda: _rounds(sent) == 2, seconds=1)
        finally:
            await _stopped(deliverer, task)


async def test_an_endpoint_created_through_an_idle_gateway_is_served_at_once(
    own_database: tuple[Store, CommandLog, Settings], receiver: Receiver, admin_token: str
) -> None:
    settings = own_database[2]
    own: Any = settings.model_copy(
        update={"webhook_dispatcher": True, "webhook_allow_http_localhost": True, "webhook_idle_poll_ms": 60_000}
    )
    app = create_app(own)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            gateway = Gateway(client)
            tenant = await new_tenant(gateway, admin_token, "dispatch")
            _, secret = await create_endpoint(gateway, tenant, receiver.url)
            await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
            await wait_for(lambda: len(receiver.received) == 1, seconds=5)  # not a minute
    assert Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)["type"] == "user.created"


async def test_a_round_with_nothing_to_send_costs_three_reads_however_many_endpoints(
    own_database: tuple[Store, CommandLog, Settings], runtime: Runtime
) -> None:
    store, log, settings = own_database
    deliverer = Dispatcher(store, runtime.box, settings)
    await deliverer.run_once()  # the first round also looks for pending purges
    for count in (1, 5):
        while len(await webhook_store.enabled_endpoints(store)) < count:
            app_id = f"app_{secrets.token_hex(3)}"
            await outbox.counters(store).insert_one({"_id": app_id, "seq": 7})  # events before the endpoint
            await _endpoint(store, deliverer, app_id)
        with log.recording() as sent:
            assert await deliverer.run_once() == 0
        assert dict(sent) == ROUND_READS, (count, sent)


async def test_deliveries_waiting_for_their_retry_cost_no_lease_attempt(
    own_database: tuple[Store, CommandLog, Settings], runtime: Runtime
) -> None:
    store, log, settings = own_database
    deliverer = Dispatcher(store, runtime.box, settings.model_copy(update={"webhook_retry_schedule": [600.0]}))
    endpoint_id = await _endpoint(store, deliverer, "app_w")
    await deliverer.run_once()  # the first round also looks for pending purges
    now = clock.now()
    waiting = [
        {
            "_id": webhook_store.delivery_id(endpoint_id, seq),
            "appId": "app_w",
            "endpointId": endpoint_id,
            "seq": seq,
            "eventId": f"evt_{seq}",
            "eventType": "user.updated",
            "userId": f"user_{seq}",
            "occurredAt": now,
            "status": webhook_store.PENDING,
            "attempts": 1,
            "nextAttemptAt": now + timedelta(minutes=10),  # after a failed attempt
            "leaseUntil": now,
        }
        for seq in range(1, 6)
    ]
    await webhook_store.deliveries(store).insert_many(waiting)
    async with DelivererClient(deliverer):
        with log.recording() as sent:
            assert await deliverer.run_once() == 0
        assert dict(sent) == ROUND_READS, sent
        # One of them due again: it alone is attempted (its event is past retention, so the
        # attempt finishes it as FAILED).
        due = waiting[2]["_id"]
        await webhook_store.deliveries(store).update_one({"_id": due}, {"$set": {"nextAttemptAt": clock.now()}})
        with log.recording() as sent:
            assert await deliverer.run_once() == 1
        assert sent["findAndModify webhook_deliveries"] == 1, sent
    statuses = {item["_id"]: item["status"] async for item in webhook_store.deliveries(store).find({})}
    assert statuses.pop(due) == webhook_store.FAILED
    assert set(statuses.values()) == {webhook_store.PENDING}


def test_a_delivery_is_due_only_when_its_time_has_come_and_no_lease_holds_it() -> None:
    now = clock.now()
    later = now + timedelta(seconds=1)
    assert webhook_store.is_due({"nextAttemptAt": now, "leaseUntil": now}, now)
    assert not webhook_store.is_due({"nextAttemptAt": later, "leaseUntil": now}, now)  # waits for its retry
    assert not webhook_store.is_due({"nextAttemptAt": now, "leaseUntil": later}, now)  # in flight elsewhere
    assert not webhook_store.is_due({"status": webhook_store.PENDING}, now)  # as the lease's query: no time, no match
