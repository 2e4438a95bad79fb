"""redeliverWebhookEvents: an endpoint's deliveries since a time are made pending again by a
walk in short batches of point updates (the call runs the first, housekeeping the rest), never
by one update over the endpoint's whole past. A walk interrupted halfway is finished by the
next process; processes walking at once, and a second call while one walks, lose nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain import clock
from app.domain.housekeeping import Housekeeping
from app.store import redeliveries
from app.store import webhooks as webhook_store
from app.store.client import Store
from app.store.errors import StoreUnreachable
from app.store.redeliveries import REDELIVERY_BATCH
from tests.commands import CommandLog
from tests.events.test_housekeeping import Own, _served, own_database, runtime
from tests.events.test_webhooks import create_endpoint
from tests.helpers import Gateway, Tenant, succeeded_deliveries

__all__ = ["own_database", "runtime"]  # fixtures

REDELIVER = """mutation($id: ID!, $since: DateTime!) {
  redeliverWebhookEvents(endpointId: $id, since: $since) {
    count redelivery { since scheduled } userErrors { code field }
  }
}"""
ENDPOINTS = "{ webhookEndpoints { id redelivery { scheduled } } }"
DISABLE = "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: false}) { userErrors { code } } }"

SINCE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _deliveries(endpoint_id: str, old: int, recent: int) -> list[dict[str, Any]]:
    """``old`` delivered before SINCE, then ``recent`` at or after it."""
    times = [SINCE + timedelta(minutes=seq - old - 1) for seq in range(1, old + recent + 1)]
    return succeeded_deliveries("app_r", endpoint_id, times)


async def _disabled_endpoint(gateway: Gateway, tenant: Tenant, url: str) -> str:
    """An endpoint no dispatcher sends to (the test store's dispatchers would attempt the
    made-up deliveries, which lack an event)."""
    endpoint_id, _ = await create_endpoint(gateway, tenant, url)
    disabled = await gateway.data(DISABLE, {"id": endpoint_id}, token=tenant.app_token)
    assert disabled["updateWebhookEndpoint"]["userErrors"] == []
    return endpoint_id


async def _walk_of(store: Store, endpoint_id: str) -> dict[str, Any] | None:
    """The endpoint's redelivery record, or None once its walk is done."""
    return await webhook_store.redeliveries(store).find_one({"_id": endpoint_id})


async def _pending(store: Store, endpoint_id: str) -> int:
    return await webhook_store.deliveries(store).count_documents({"endpointId": endpoint_id, "status": "PENDING"})


async def _walk_all(store: Store) -> None:
    for _ in range(100):
        if not await redeliveries.due(store, 1):
            return
        housekeeping = Housekeeping(store, retention_days=36_500)
        await housekeeping.run(clock.now())
    raise AssertionError("the redelivery never finished")


async def test_a_long_redelivery_sends_point_updates_of_one_batch_and_answers(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    endpoint_id = await _disabled_endpoint(gateway, tenant, "http://127.0.0.1:9/long")
    old, recent = 30, REDELIVERY_BATCH + 20
    await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, old, recent))
    with command_log.capturing() as sent:
        answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": SINCE.isoformat()}, token=tenant.app_token)
    payload = answer["redeliverWebhookEvents"]
    assert payload["userErrors"] == []
    first = REDELIVERY_BATCH - old  # the first batch read the 30 old deliveries too
    assert payload["count"] == first
    assert payload["redelivery"] == {"since": SINCE.isoformat(), "scheduled": first}
    updates = [command for command in sent if command.get("update") == "webhook_deliveries"]
    assert len(updates) == 1, updates  # never one update over the endpoint's past
    assert len(updates[0]["updates"]) == first
    assert all(set(statement["q"]) == {"_id"} for statement in updates[0]["updates"])
    assert await _pending(store, endpoint_id) == first
    listed = {item["id"]: item for item in (await gateway.data(ENDPOINTS, token=tenant.app_token))["webhookEndpoints"]}
    assert listed[endpoint_id]["redelivery"] == {"scheduled": first}

    await _walk_all(store)
    assert await _pending(store, endpoint_id) == recent  # the old ones stay as they were
    listed = {item["id"]: item for item in (await gateway.data(ENDPOINTS, token=tenant.app_token))["webhookEndpoints"]}
    assert listed[endpoint_id]["redelivery"] is None


async def test_a_short_redelivery_is_done_when_the_call_answers(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    endpoint_id = await _disabled_endpoint(gateway, tenant, "http://127.0.0.1:9/short")
    await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, 3, 4))
    # A time without an offset is read as UTC, as the store would read it (never a 500).
    naive = SINCE.replace(tzinfo=None).isoformat()
    answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": naive}, token=tenant.app_token)
    assert answer["redeliverWebhookEvents"] == {"count": 4, "redelivery": None, "userErrors": []}
    assert await _pending(store, endpoint_id) == 4
    assert await _walk_of(store, endpoint_id) is None


async def test_an_endpoint_without_deliveries_has_nothing_to_redeliver(gateway: Gateway, tenant: Tenant) -> None:
    endpoint_id = await _disabled_endpoint(gateway, tenant, "http://127.0.0.1:9/none")
    answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": SINCE.isoformat()}, token=tenant.app_token)
    assert answer["redeliverWebhookEvents"] == {"count": 0, "redelivery": None, "userErrors": []}


async def test_a_served_gateway_walks_the_rest_at_once(own_database: Own, admin_token: str) -> None:
    store = own_database[0]
    async with _served(own_database, admin_token) as (gateway, tenant):
        endpoint_id = await _disabled_endpoint(gateway, tenant, "http://127.0.0.1:9/served")
        recent = 2 * REDELIVERY_BATCH + 10
        await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, 5, recent))
        answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": SINCE.isoformat()}, token=tenant.app_token)
        assert answer["redeliverWebhookEvents"]["redelivery"] is not None
        for _ in range(100):  # the call woke the dispatcher: not a minute later
            if await _walk_of(store, endpoint_id) is None:
                break
            await asyncio.sleep(0.05)
        assert await _pending(store, endpoint_id) == recent


async def test_a_walk_interrupted_before_its_cursor_moved_is_finished_by_the_next_process(
    own_database: Own, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = own_database[0]
    recent = REDELIVERY_BATCH + 40
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_crash", 10, recent))
    assert await redeliveries.schedule(store, "app_r", "ep_crash", SINCE, clock.now()) is not None

    async def dies(*_: object) -> None:
        raise StoreUnreachable("the process died after updating its batch")

    with monkeypatch.context() as patched:
        patched.setattr(redeliveries, "_advance", dies)
        with pytest.raises(StoreUnreachable):
            await Housekeeping(store, retention_days=36_500).run(clock.now())
    assert await _pending(store, "ep_crash") == REDELIVERY_BATCH - 10  # updated, cursor not moved
    await _walk_all(store)  # the next process repeats that batch and goes on
    assert await _pending(store, "ep_crash") == recent
    assert await redeliveries.due(store, 5) == []


async def test_processes_walking_at_once_make_every_delivery_pending(own_database: Own) -> None:
    store = own_database[0]
    recent = 3 * REDELIVERY_BATCH + 7
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_race", 12, recent))
    assert await redeliveries.schedule(store, "app_r", "ep_race", SINCE, clock.now()) is not None
    workers = [Housekeeping(store, retention_days=36_500) for _ in range(3)]
    await asyncio.gather(*(worker.run(clock.now()) for worker in workers))
    assert await _pending(store, "ep_race") == recent
    assert await redeliveries.due(store, 5) == []


async def test_asking_again_while_a_walk_runs_starts_over_from_the_earlier_time(own_database: Own) -> None:
    store = own_database[0]
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_again", 50, 2 * REDELIVERY_BATCH))
    later = SINCE + timedelta(minutes=100)
    first = await redeliveries.schedule(store, "app_r", "ep_again", later, clock.now())
    assert first is not None
    batch = await redeliveries.run_batch(store, first, clock.now())
    assert batch.rest is not None and batch.rest["cursor"] == REDELIVERY_BATCH
    earlier = SINCE - timedelta(minutes=20)  # 20 of the old ones too
    second = await redeliveries.schedule(store, "app_r", "ep_again", earlier, clock.now())
    assert second is not None and second["cursor"] == 0 and second["since"] == earlier
    # The first call's walk goes no further: it neither moves the new cursor nor ends the walk.
    stale = await redeliveries.run_batch(store, batch.rest, clock.now())
    assert stale.rest is None
    assert (await _walk_of(store, "ep_again") or {}).get("cursor") == 0
    # Asked for a later time now, the earlier one holds.
    third = await redeliveries.schedule(store, "app_r", "ep_again", later, clock.now())
    assert third is not None and third["since"] == earlier
    await _walk_all(store)
    assert await _pending(store, "ep_again") == 2 * REDELIVERY_BATCH + 20


async def test_deleting_the_endpoint_ends_its_redelivery(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    endpoint_id = await _disabled_endpoint(gateway, tenant, "http://127.0.0.1:9/gone")
    await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, 0, REDELIVERY_BATCH + 5))
    answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": SINCE.isoformat()}, token=tenant.app_token)
    assert answer["redeliverWebhookEvents"]["redelivery"] is not None
    delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { userErrors { code } } }"
    assert (await gateway.data(delete, {"id": endpoint_id}, token=tenant.app_token))["deleteWebhookEndpoint"] == {
        "userErrors": []
    }
    assert await _walk_of(store, endpoint_id) is None


async def test_a_redelivery_record_this_version_does_not_understand_is_skipped(
    own_database: Own, caplog: pytest.LogCaptureFixture
) -> None:
    store = own_database[0]
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_fine", 0, 3))
    assert await redeliveries.schedule(store, "app_r", "ep_fine", SINCE, clock.now()) is not None
    hostile = {"_id": "ep_bad", "run": "x", "since": SINCE, "cursor": {"$gt": 0}, "upTo": 5}  # never an operator
    await webhook_store.redeliveries(store).insert_one(hostile)
    await Housekeeping(store, retention_days=36_500).run(clock.now())
    assert await _pending(store, "ep_fine") == 3
    assert [walk["_id"] for walk in await redeliveries.due(store, 5)] == ["ep_bad"]
    assert "redelivery 'ep_bad' skipped" in caplog.text


async def test_listing_endpoints_with_their_redeliveries_is_one_read_of_them(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    walking = []
    for name in ("one", "two", "three"):
        endpoint_id = await _disabled_endpoint(gateway, tenant, f"http://127.0.0.1:9/list-{name}")
        await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, 0, REDELIVERY_BATCH + 1))
        answer = await gateway.data(REDELIVER, {"id": endpoint_id, "since": SINCE.isoformat()}, token=tenant.app_token)
        assert answer["redeliverWebhookEvents"]["redelivery"] is not None
        walking.append(endpoint_id)
    with command_log.capturing() as sent:
        listed = (await gateway.data(ENDPOINTS, token=tenant.app_token))["webhookEndpoints"]
    assert {item["id"]: item["redelivery"] for item in listed} == {
        endpoint_id: {"scheduled": REDELIVERY_BATCH} for endpoint_id in walking
    }
    reads = [command for command in sent if command.get("find") == "webhook_redeliveries"]
    assert len(reads) == 1, reads
