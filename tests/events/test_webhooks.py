"""Webhooks with a real receiver on 127.0.0.1: signatures, retries, order, leases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from app.config import Settings
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime
from app.store import purges
from app.store import webhooks as webhook_store
from app.store.client import Store
from tests.events.receiver import Receiver, Reply
from tests.helpers import Gateway, Tenant, purge_now

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventTypes enabled createdAt }
    secret
    userErrors { code message field }
  }
}
"""
UPSERT = "mutation($id: String!) { upsertUser(input: {externalUserId: $id}) { user { id } userErrors { code } } }"
ADD_TAG = 'mutation($t: String!) { addTags(by: {externalUserId: "alice"}, tags: [$t]) { userErrors { code } } }'
DELIVERIES = """
query { webhookEndpoints { id enabled deliveries(first: 50) {
  nodes { eventId eventType status attempts lastAttemptAt nextAttemptAt responseStatus } } } }
"""


@pytest.fixture
def runtime(app: Starlette) -> Iterator[Runtime]:
    runtime: Runtime = app.state.runtime
    allowed = runtime.settings.webhook_allow_http_localhost
    runtime.settings.webhook_allow_http_localhost = True  # the receiver is http on 127.0.0.1
    yield runtime
    runtime.settings.webhook_allow_http_localhost = allowed


@pytest.fixture
def production_urls(app: Starlette) -> Iterator[None]:
    """URL rules as in production: no http:// and no loopback targets."""
    runtime: Runtime = app.state.runtime
    allowed = runtime.settings.webhook_allow_http_localhost
    runtime.settings.webhook_allow_http_localhost = False
    yield
    runtime.settings.webhook_allow_http_localhost = allowed


def dispatcher(runtime: Runtime, **overrides: Any) -> Dispatcher:
    settings: Settings = runtime.settings.model_copy(
        update={"webhook_retry_schedule": [0.05, 0.05, 0.05], "webhook_poll_ms": 20, **overrides}
    )
    return Dispatcher(runtime.store, runtime.box, settings)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


async def create_endpoint(gateway: Gateway, tenant: Tenant, url: str, **extra: Any) -> tuple[str, str]:
    data = await gateway.data(CREATE, {"input": {"url": url, **extra}}, token=tenant.app_token)
    payload = data["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload
    return payload["endpoint"]["id"], payload["secret"]


async def until(condition: Any, deliverer: Dispatcher, seconds: float = 10.0) -> None:
    """Run dispatch rounds until ``condition()`` holds (bounded)."""
    deadline = asyncio.get_running_loop().time() + seconds
    async with DelivererClient(deliverer):
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "not delivered in time"
            await deliverer.run_once()
            await asyncio.sleep(0.02)


class DelivererClient:
    """Gives a dispatcher its HTTP client for run_once calls."""

    def __init__(self, deliverer: Dispatcher) -> None:
        self.deliverer = deliverer

    async def __aenter__(self) -> None:
        import httpx

        if self.deliverer.client is None:
            self.deliverer.client = httpx.AsyncClient(timeout=self.deliverer.settings.webhook_timeout_seconds)
            self.owned = True
        else:
            self.owned = False

    async def __aexit__(self, *exc: object) -> None:
        if self.owned and self.deliverer.client is not None:
            await self.deliverer.client.aclose()
            self.deliverer.client = None


async def wait_for(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(item.body) for item in receiver.received]


async def test_a_change_arrives_signed(gateway: Gateway, tenant: Tenant, runtime: Runtime, receiver: Receiver) -> None:
    _, secret = await create_endpoint(gateway, tenant, receiver.url)
    assert secret.startswith("whsec_")
    created = await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
    await until(lambda: len(receiver.received) == 1, dispatcher(runtime))
    [request] = receiver.received
    event = Webhook(secret).verify(request.body, request.headers)
    assert event["type"] == "user.created"
    assert event["userId"] == created["upsertUser"]["user"]["id"]
    assert event["externalUserId"] == "alice" and event["appId"] == tenant.app_id
    assert request.headers["webhook-id"] == event["id"]
    with pytest.raises(Exception):  # noqa: B017 (any verification failure)
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)


async def test_receiver_down_then_up_gets_everything_in_order_with_stable_ids(
    gateway: Gateway, tenant: Tenant, runtime: Runtime
) -> None:
    receiver = Receiver().start()
    await create_endpoint(gateway, tenant, receiver.url)
    receiver.stop()
    await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
    for tag in ("a", "b"):
        await gateway.data(ADD_TAG, {"t": tag}, token=tenant.app_token)
    deliverer = dispatcher(runtime, webhook_retry_schedule=[0.2] * 20)
    async with DelivererClient(deliverer):
        await deliverer.run_once()  # connection refused: all stay pending
    listing = await gateway.data(DELIVERIES, token=tenant.app_token)
    nodes = listing["webhookEndpoints"][0]["deliveries"]["nodes"]
    assert [node["status"] for node in nodes] == ["PENDING"] * 3
    assert nodes[0]["attempts"] == 1 and nodes[0]["responseStatus"] is None
    # Only the first of the user's events was tried: the others wait behind it.
    assert [node["attempts"] for node in nodes] == [1, 0, 0]
    up = Receiver(port=receiver.port).start()
    try:
        await until(lambda: len(up.received) == 3, deliverer)
    finally:
        up.stop()
    feed = await gateway.data("{ changeEvents { nodes { id type } } }", token=tenant.app_token)
    expected = [node["id"] for node in feed["changeEvents"]["nodes"]]
    assert [item.headers["webhook-id"] for item in up.received] == expected
    assert [body["type"] for body in bodies(up)] == ["user.created", "user.updated", "user.updated"]
    listing = await gateway.data(DELIVERIES, token=tenant.app_token)
    assert {node["status"] for node in listing["webhookEndpoints"][0]["deliveries"]["nodes"]} == {"SUCCEEDED"}


async def test_concurrent_changes_to_one_user_arrive_in_version_order(
    gateway: Gateway, tenant: Tenant, runtime: Runtime, receiver: Receiver
) -> None:
    await create_endpoint(gateway, tenant, receiver.url)
    await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
    answers = await asyncio.gather(*(gateway.data(ADD_TAG, {"t": f"t{n}"}, token=tenant.app_token) for n in range(100)))
    applied = sum(1 for answer in answers if answer["addTags"]["userErrors"] == [])
    assert applied > 0
    await until(lambda: len(receiver.received) >= applied + 1, dispatcher(runtime), seconds=60)
    versions = [body["version"] for body in bodies(receiver)]
    assert versions == list(range(applied + 1))


async def test_stopped_mid_delivery_is_delivered_after_restart_and_never_twice_at_once(
    gateway: Gateway, tenant: Tenant, runtime: Runtime
) -> None:
    replies: Reply = lambda number: (204, {}, 1.5 if number == 1 else 0.0)  # noqa: E731
    receiver = Receiver(reply=replies).start()
    try:
        await create_endpoint(gateway, tenant, receiver.url)
        await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
        first = dispatcher(runtime, webhook_lease_seconds=1.0)
        task = asyncio.create_task(first.run())
        await wait_for(lambda: bool(receiver.received))
        task.cancel()  # the process dies while its request is in flight
        with pytest.raises(asyncio.CancelledError):
            await task
        second = dispatcher(runtime, webhook_lease_seconds=1.0)
        async with DelivererClient(second):
            await second.run_once()  # the lease still holds: nothing is sent again yet
            assert len(receiver.received) == 1
        await until(lambda: len(receiver.received) == 2, second)
        first_id, second_id = (item.headers["webhook-id"] for item in receiver.received)
        assert first_id == second_id
        listing = await gateway.data(DELIVERIES, token=tenant.app_token)
        assert listing["webhookEndpoints"][0]["deliveries"]["nodes"][0]["status"] == "SUCCEEDED"
    finally:
        receiver.stop()


async def test_two_dispatchers_at_once_send_a_delivery_once(gateway: Gateway, tenant: Tenant, runtime: Runtime) -> None:
    receiver = Receiver(reply=lambda _: (204, {}, 0.5)).start()
    try:
        await create_endpoint(gateway, tenant, receiver.url)
        await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
        one, two = dispatcher(runtime), dispatcher(runtime)
        async with DelivererClient(one), DelivererClient(two):
            await asyncio.gather(one.run_once(), two.run_once())
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


async def test_retry_after_is_honoured_and_failing_endpoints_are_disabled(
    gateway: Gateway, tenant: Tenant, runtime: Runtime
) -> None:
    receiver = Receiver(reply=lambda _: (429, {"retry-after": "30"}, 0.0)).start()
    try:
        endpoint_id, _ = await create_endpoint(gateway, tenant, receiver.url)
        await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
        deliverer = dispatcher(runtime, webhook_disable_after_failures=3)
        async with DelivererClient(deliverer):
            await deliverer.run_once()
            await deliverer.run_once()  # not due yet: no second request
        assert len(receiver.received) == 1
        [delivery] = await webhook_store.pending(runtime.store, endpoint_id, 10)
        assert delivery["nextAttemptAt"] - delivery["lastAttemptAt"] >= timedelta(seconds=29)
        assert delivery["responseStatus"] == 429
        # Three failed attempts in a row disable the endpoint.
        receiver.reply = lambda _: (500, {}, 0.0)
        await webhook_store.deliveries(runtime.store).update_many(
            {"endpointId": endpoint_id}, {"$set": {"nextAttemptAt": datetime.now(UTC)}}
        )
        await until(lambda: len(receiver.received) >= 3, deliverer)
        listing = await gateway.data(DELIVERIES, token=tenant.app_token)
        assert listing["webhookEndpoints"][0]["enabled"] is False
    finally:
        receiver.stop()


async def test_rotation_signs_with_both_secrets_and_redelivery_replays(
    gateway: Gateway, tenant: Tenant, runtime: Runtime, receiver: Receiver
) -> None:
    endpoint_id, old_secret = await create_endpoint(gateway, tenant, receiver.url)
    rotated = await gateway.data(
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { id } secret userErrors { code } } }",
        {"id": endpoint_id},
        token=tenant.app_token,
    )
    new_secret = rotated["rotateWebhookSecret"]["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    await gateway.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
    deliverer = dispatcher(runtime)
    await until(lambda: len(receiver.received) == 1, deliverer)
    request = receiver.received[0]
    for secret in (old_secret, new_secret):
        Webhook(secret).verify(request.body, request.headers)
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    replay = await gateway.data(
        "mutation($id: ID!, $since: DateTime!) { redeliverWebhookEvents(endpointId: $id, since: $since) "
        "{ count userErrors { code } } }",
        {"id": endpoint_id, "since": since},
        token=tenant.app_token,
    )
    assert replay["redeliverWebhookEvents"] == {"count": 1, "userErrors": []}
    await until(lambda: len(receiver.received) == 2, deliverer)
    assert receiver.received[1].headers["webhook-id"] == request.headers["webhook-id"]


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hooks",
        "https://192.168.1.5/hooks",
        "https://169.254.169.254/latest",
        "https://[::1]/hooks",
        "http://93.184.216.34/hooks",
        "ftp://127.0.0.1/hooks",
        "https://user:pw@127.0.0.1/hooks",
        "not a url",
    ],
)
async def test_unsafe_urls_are_refused(gateway: Gateway, tenant: Tenant, url: str, production_urls: None) -> None:
    data = await gateway.data(CREATE, {"input": {"url": url}}, token=tenant.app_token)
    payload = data["createWebhookEndpoint"]
    assert payload["endpoint"] is None and payload["secret"] is None
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [("INVALID_INPUT", ["input", "url"])]
    listing = await gateway.data("{ webhookEndpoints { id } }", token=tenant.app_token)
    assert listing["webhookEndpoints"] == []


async def test_http_to_localhost_needs_the_development_setting(
    gateway: Gateway, tenant: Tenant, production_urls: None
) -> None:
    data = await gateway.data(CREATE, {"input": {"url": "http://127.0.0.1:9/hooks"}}, token=tenant.app_token)
    assert data["createWebhookEndpoint"]["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_user_tokens_cannot_manage_webhooks(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute(CREATE, {"input": {"url": "https://1.1.1.1/x"}}, token=tenant.user_token("alice"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_gateway_delivers_by_itself_within_a_second(
    settings: Settings, runtime: Runtime, tenant: Tenant, gateway: Gateway, receiver: Receiver
) -> None:
    """A second gateway on the same store, with its default in-process dispatcher."""
    import httpx

    from app.main import create_app

    embedded = runtime.store.embedded
    uri = embedded._ready.result() if embedded is not None else settings.mongodb_uri
    own = runtime.settings.model_copy(
        update={"mongodb_uri": uri, "webhook_dispatcher": True, "webhook_allow_http_localhost": True}
    )
    second = create_app(own)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            other = Gateway(client)
            _, secret = await create_endpoint(other, tenant, receiver.url)
            await other.data(UPSERT, {"id": "alice"}, token=tenant.app_token)
            started = asyncio.get_running_loop().time()
            await wait_for(lambda: len(receiver.received) == 1, seconds=5)
            assert asyncio.get_running_loop().time() - started < 1.5
    assert Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)["type"] == "user.created"


DELETE_ENDPOINT = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }"


async def test_deleting_an_endpoint_makes_its_deliveries_purge_due_or_nothing(
    gateway: Gateway, tenant: Tenant, store: Store, runtime: Runtime
) -> None:
    from tests.domain.test_write_atomicity import Steps, hooked

    data = await gateway.data(CREATE, {"input": {"url": "http://127.0.0.1:9/hooks"}}, token=tenant.app_token)
    endpoint_id = data["createWebhookEndpoint"]["endpoint"]["id"]
    await webhook_store.deliveries(store).insert_one(
        {"_id": f"{endpoint_id}:1", "endpointId": endpoint_id, "status": "PENDING", "seq": 1}
    )
    with hooked(Steps(fail_at=2)):  # the endpoint's delete ran; recording its purge fails
        body = await gateway.execute(DELETE_ENDPOINT, {"id": endpoint_id}, token=tenant.app_token)
    assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert await webhook_store.endpoints(store).count_documents({"_id": endpoint_id}) == 1
    assert not await purges.is_scheduled(store, "webhook_deliveries", [endpoint_id])
    # The retry deletes the endpoint, and its deliveries go with housekeeping's next round.
    data = await gateway.data(DELETE_ENDPOINT, {"id": endpoint_id}, token=tenant.app_token)
    assert data["deleteWebhookEndpoint"]["deletedId"] == endpoint_id
    assert await webhook_store.endpoints(store).count_documents({"_id": endpoint_id}) == 0
    assert await purges.is_scheduled(store, "webhook_deliveries", [endpoint_id])
    await purge_now(store)
    assert await webhook_store.deliveries(store).count_documents({"endpointId": endpoint_id}) == 0
