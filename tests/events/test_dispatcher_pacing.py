"""Every gateway process runs a webhook dispatcher: with no endpoint enabled it looks at the
idle rate, so it costs its store next to nothing; an endpoint created through the gateway
is served at once all the same. Each test uses a database of its own on the test store, so
that the endpoints of other tests do not count."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.domain import webhooks
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime, create_app
from app.store.client import Store, connect
from tests.conftest import new_tenant
from tests.events.receiver import Receiver
from tests.events.test_webhooks import UPSERT, create_endpoint, receiver, runtime, wait_for
from tests.helpers import Gateway

__all__ = ["receiver", "runtime"]  # fixtures


class EndpointLookups(CommandListener):
    """Counts the dispatcher's rounds: each starts with one read of the enabled endpoints."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "webhook_endpoints":
            self.count += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def _store_uri(runtime: Runtime) -> str:
    embedded = runtime.store.embedded
    uri = embedded._ready.result() if embedded is not None else runtime.settings.mongodb_uri
    assert uri is not None
    return uri


@pytest.fixture
async def own_database(runtime: Runtime) -> AsyncIterator[tuple[Store, EndpointLookups, Settings]]:
    """A store on a database of this test's own, whose endpoint look-ups are counted."""
    name = f"pacing_{secrets.token_hex(4)}"
    lookups = EndpointLookups()
    store = connect(_store_uri(runtime), name, timeout_ms=10_000, listeners=[lookups])
    settings = runtime.settings.model_copy(update={"database_name": name, "mongodb_uri": _store_uri(runtime)})
    try:
        yield store, lookups, settings
    finally:
        await store.client.drop_database(name)
        await store.close()


async def _stopped(deliverer: Dispatcher, task: asyncio.Task[None]) -> None:
    deliverer.stop()
    await asyncio.wait_for(task, 5)


async def test_with_no_endpoint_enabled_the_dispatcher_looks_at_the_idle_rate(
    own_database: tuple[Store, EndpointLookups, Settings], runtime: Runtime
) -> None:
    store, lookups, settings = own_database
    paced = settings.model_copy(update={"webhook_poll_ms": 20, "webhook_idle_poll_ms": 400})
    deliverer = Dispatcher(store, runtime.box, paced)
    task = asyncio.create_task(deliverer.run())
    try:
        await asyncio.sleep(1.0)
        idle = lookups.count
        assert 1 <= idle <= 4, idle  # at the busy rate, about 50
        await webhooks.create(
            store, runtime.box, deliverer.policy, "app_pacing", "http://127.0.0.1:9/hooks", None, None, 10
        )
        await asyncio.sleep(1.0)  # noticed within one idle delay, then looked at every 20 ms
        assert lookups.count - idle >= 10, lookups.count
    finally:
        await _stopped(deliverer, task)


async def test_wake_starts_the_next_round_at_once(
    own_database: tuple[Store, EndpointLookups, Settings], runtime: Runtime
) -> None:
    store, lookups, settings = own_database
    deliverer = Dispatcher(store, runtime.box, settings.model_copy(update={"webhook_idle_poll_ms": 60_000}))
    task = asyncio.create_task(deliverer.run())
    try:
        await wait_for(lambda: lookups.count == 1, seconds=5)
        await asyncio.sleep(0.2)
        assert lookups.count == 1  # idle: the next round is a minute away
        deliverer.wake()
        await wait_for(lambda: lookups.count == 2, seconds=1)
    finally:
        await _stopped(deliverer, task)


async def test_an_endpoint_created_through_an_idle_gateway_is_served_at_once(
    own_database: tuple[Store, EndpointLookups, Settings], runtime: Runtime, receiver: Receiver, admin_token: str
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
            tenant = await new_tenant(gateway, admin_token, "pacing")
            _, secret = await create_endpoint(gateway, tenant, receiver.url)
            await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
            await wait_for(lambda: len(receiver.received) == 1, seconds=5)  # not a minute
    assert Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)["type"] == "user.created"
