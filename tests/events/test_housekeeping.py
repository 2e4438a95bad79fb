"""Housekeeping: an erased user's history and a deleted endpoint's deliveries are purged after
the unit of work that erased their owner, a merged user's history moves to the user that
absorbed it after the merge's unit, and change events and deliveries past retention are
trimmed, each in short batches of deletes by ``_id`` within a per-round budget, so no store
command grows with an owner's past. A purge interrupted by a crash is finished by the next
process; several processes at once delete each document once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from app.config import Settings
from app.domain import clock
from app.domain.housekeeping import OWNERS_PER_ROUND, RETENTION_FIRST_AFTER, Housekeeping
from app.graphql.ids import decode_id
from app.main import create_app
from app.store import outbox, purges
from app.store import webhooks as webhook_store
from app.store.client import Store
from app.store.errors import StoreUnreachable
from app.store.purges import PURGE_BATCH
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.events.test_dispatcher_cost import own_database
from tests.events.test_webhooks import runtime
from tests.helpers import Gateway, Tenant, assert_no_errors, purge_now, succeeded_deliveries
from tests.identity_ops import MERGE, UPSERT

__all__ = ["own_database", "runtime"]  # fixtures

Own = tuple[Store, CommandLog, Settings]
NOW = timedelta(0)  # retention's first pass in the first round


def _deliveries(endpoint_id: str, count: int, occurred_at: datetime) -> list[dict[str, Any]]:
    return succeeded_deliveries("app_h", endpoint_id, [occurred_at] * count)


def _entries(app_id: str, ages_in_days: list[float]) -> list[dict[str, Any]]:
    now = clock.now()
    return [
        {
            "_id": outbox.entry_id(app_id, seq),
            "appId": app_id,
            "seq": seq,
            "id": f"evt_{app_id}_{seq}",
            "type": "user.updated",
            "userId": "u",
            "occurredAt": now - timedelta(days=age),
        }
        for seq, age in enumerate(ages_in_days, start=1)
    ]


def _deletes(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [command for command in sent if "delete" in command]


async def _schedule_deliveries_purge(store: Store, endpoint_id: str) -> None:
    await purges.collection(store).insert_one(
        {
            "_id": purges.purge_id("webhook_deliveries", [endpoint_id]),
            "target": "webhook_deliveries",
            "owner": [endpoint_id],
            "scheduledAt": clock.now(),
        }
    )


async def test_a_purge_deletes_in_batches_of_point_deletes_within_the_round_budget(own_database: Own) -> None:
    store, log, _ = own_database
    count = 2 * PURGE_BATCH + 50
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_big", count, clock.now()))
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_kept", 3, clock.now()))
    await _schedule_deliveries_purge(store, "ep_big")
    housekeeping = Housekeeping(store, retention_days=30, round_budget=2 * PURGE_BATCH)
    with log.capturing() as sent:
        assert await housekeeping.run(clock.now()) == 2 * PURGE_BATCH
    deletes = _deletes(sent)
    assert len(deletes) == 2, deletes
    for command in deletes:  # each a batch of deletes by _id, never a selector over the owner
        assert len(command["deletes"]) == PURGE_BATCH
        assert all(set(statement["q"]) == {"_id"} for statement in command["deletes"])
    assert await purges.is_scheduled(store, "webhook_deliveries", ["ep_big"])  # budget spent: more to do
    assert await housekeeping.run(clock.now()) == 50  # the next round goes on at once
    assert not await purges.is_scheduled(store, "webhook_deliveries", ["ep_big"])
    assert await webhook_store.deliveries(store).count_documents({"endpointId": "ep_big"}) == 0
    assert await webhook_store.deliveries(store).count_documents({"endpointId": "ep_kept"}) == 3


async def test_a_purge_interrupted_by_a_crash_is_finished_by_the_next_process(own_database: Own) -> None:
    store, _, _ = own_database
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_crash", PURGE_BATCH + 20, clock.now()))
    await _schedule_deliveries_purge(store, "ep_crash")
    crashed = Housekeeping(store, retention_days=30, round_budget=PURGE_BATCH)
    assert await crashed.run(clock.now()) == PURGE_BATCH
    del crashed  # the process is gone after its first batch
    assert await purges.is_scheduled(store, "webhook_deliveries", ["ep_crash"])
    assert await Housekeeping(store, retention_days=30).run(clock.now()) == 20
    assert await webhook_store.deliveries(store).count_documents({"endpointId": "ep_crash"}) == 0
    assert not await purges.is_scheduled(store, "webhook_deliveries", ["ep_crash"])


async def test_processes_purging_at_once_delete_each_document_once(own_database: Own) -> None:
    store, _, _ = own_database
    count = 3 * PURGE_BATCH
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_race", count, clock.now()))
    await _schedule_deliveries_purge(store, "ep_race")
    workers = [Housekeeping(store, retention_days=30) for _ in range(4)]
    deleted = await asyncio.gather(*(worker.run(clock.now()) for worker in workers))
    assert sum(deleted) == count
    assert await webhook_store.deliveries(store).count_documents({}) == 0
    assert await purges.due(store, 10) == []


async def test_a_purge_record_this_version_does_not_know_is_left_and_others_go_on(own_database: Own) -> None:
    store, _, _ = own_database
    await purges.collection(store).insert_many(
        [
            {"_id": "a|users", "target": "users", "owner": ["x"]},  # not a purge target
            {"_id": "b|ops", "target": "webhook_deliveries", "owner": [{"$ne": None}]},  # never an operator
        ]
    )
    await webhook_store.deliveries(store).insert_many(_deliveries("ep_ok", 5, clock.now()))
    await _schedule_deliveries_purge(store, "ep_ok")
    await Housekeeping(store, retention_days=30).run(clock.now())
    assert await webhook_store.deliveries(store).count_documents({}) == 0
    assert [purge["_id"] for purge in await purges.due(store, 10)] == ["a|users", "b|ops"]


async def test_retention_trims_each_owners_oldest_entries_by_id(own_database: Own) -> None:
    store, log, _ = own_database
    await outbox.events(store).insert_many(_entries("app_r1", [40, 35, 31, 2, 1]))
    await outbox.events(store).insert_many(_entries("app_r2", [1]))
    for app_id, seq in (("app_r1", 5), ("app_r2", 1)):
        await outbox.counters(store).insert_one({"_id": app_id, "seq": seq})
    await webhook_store.endpoints(store).insert_one({"_id": "ep_r", "appId": "app_r1", "enabled": False})
    old = clock.now() - timedelta(days=31)
    await webhook_store.deliveries(store).insert_many(
        [*_deliveries("ep_r", 3, old)[:2], *_deliveries("ep_r", 3, clock.now())[2:]]
    )
    with log.capturing() as sent:
        assert await Housekeeping(store, retention_days=30, first_retention_after=NOW).run(clock.now()) == 3 + 2
    left = [entry["_id"] async for entry in outbox.events(store).find({}, {"_id": 1}).sort("_id", 1)]
    assert left == [outbox.entry_id("app_r1", 4), outbox.entry_id("app_r1", 5), outbox.entry_id("app_r2", 1)]
    assert [d["seq"] async for d in webhook_store.deliveries(store).find({})] == [3]
    for command in _deletes(sent):
        assert all(set(statement["q"]) == {"_id"} for statement in command["deletes"])
    reads = [command for command in sent if command.get("find") in ("outbox", "webhook_deliveries")]
    for command in reads:  # each owner's own range in its index's order: the oldest, then a batch
        assert "occurredAt" not in command["filter"] and command["limit"] in (1, PURGE_BATCH)
        assert set(command["filter"]) in ({"appId", "_id"}, {"endpointId"})


async def test_retention_spent_budget_goes_on_with_the_same_pass_next_round(own_database: Own) -> None:
    store, _, _ = own_database
    for app_id in ("app_p1", "app_p2"):
        await outbox.events(store).insert_many(_entries(app_id, [40] * (PURGE_BATCH + 10)))
        await outbox.counters(store).insert_one({"_id": app_id, "seq": PURGE_BATCH + 10})
    housekeeping = Housekeeping(store, retention_days=30, round_budget=PURGE_BATCH, first_retention_after=NOW)
    rounds = []
    while (deleted := await housekeeping.run(clock.now())) > 0:
        rounds.append(deleted)
    # A round stops once its budget is spent, so it deletes at most the budget and one batch.
    assert rounds == [PURGE_BATCH, 10 + PURGE_BATCH, 10]
    assert await outbox.events(store).count_documents({}) == 0


async def test_a_starting_process_delivers_first_and_a_pass_over_many_owners_spans_rounds(own_database: Own) -> None:
    store, _, _ = own_database
    apps = [f"app_m{n:03d}" for n in range(OWNERS_PER_ROUND + 5)]
    for app_id in apps:
        await outbox.events(store).insert_many(_entries(app_id, [40]))
    await outbox.counters(store).insert_many([{"_id": app_id, "seq": 1} for app_id in apps])
    housekeeping = Housekeeping(store, retention_days=30)
    started = clock.now()
    assert await housekeeping.run(started) == 0  # retention waits a minute after the start
    later = started + RETENTION_FIRST_AFTER
    assert [await housekeeping.run(later), await housekeeping.run(later)] == [OWNERS_PER_ROUND, 5]
    assert await outbox.events(store).count_documents({}) == 0


@contextlib.asynccontextmanager
async def _served(own_database: Own, admin_token: str) -> AsyncIterator[tuple[Gateway, Tenant]]:
    """A gateway whose dispatcher runs in its process, idle: its next round is a minute away
    unless a request wakes it."""
    settings: Any = own_database[2].model_copy(update={"webhook_dispatcher": True, "webhook_idle_poll_ms": 60_000})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            gateway = Gateway(client)
            tenant = await new_tenant(gateway, admin_token, "served")
            await asyncio.sleep(0.3)  # the dispatcher's first round is over
            yield gateway, tenant


async def _soon(store: Store, query: dict[str, Any]) -> int:
    """The history events ``query`` matches, once none are left or after five seconds."""
    for _ in range(100):
        if await store.history.count_documents(query) == 0:
            break
        await asyncio.sleep(0.05)
    return await store.history.count_documents(query)


async def test_a_user_erased_through_a_gateway_has_its_history_purged_at_once(
    own_database: Own, admin_token: str
) -> None:
    store = own_database[0]
    async with _served(own_database, admin_token) as (gateway, tenant):
        assert_no_errors(await gateway.execute(UPSERT_GONE, token=tenant.app_token))
        user = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "gone"})
        assert user is not None
        past = {"appId": tenant.app_id, "userId": user["_id"]}
        await store.history.insert_many([{**past, "_id": ObjectId(), "kind": "UPDATED"} for _ in range(PURGE_BATCH)])
        assert_no_errors(await gateway.execute(DELETE_GONE, token=tenant.app_token))
        assert await _soon(store, past) == 0  # not a minute later


async def test_a_user_merged_through_a_gateway_has_its_history_moved_at_once(
    own_database: Own, admin_token: str
) -> None:
    store = own_database[0]
    async with _served(own_database, admin_token) as (gateway, tenant):
        await _user_id(gateway, tenant, store, {"externalUserId": "keeper"})
        source = await _user_id(gateway, tenant, store, {"emails": ["lead@example.com"]})
        await _past(store, tenant, source, PURGE_BATCH + 5)
        await _merge(gateway, tenant, {"externalUserId": "keeper"}, {"email": "lead@example.com"})
        assert await _soon(store, {"appId": tenant.app_id, "userId": source}) == 0  # not a minute later


UPSERT_GONE = 'mutation { upsertUser(input: {externalUserId: "gone"}) { user { id } } }'
DELETE_GONE = 'mutation { deleteUser(by: {externalUserId: "gone"}) { deletedUserId } }'


async def test_erasing_a_user_or_deleting_an_endpoint_deletes_none_of_their_past_in_the_request(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    assert_no_errors(await gateway.execute(UPSERT_GONE, token=tenant.app_token))
    created = await gateway.data(
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/h"}) { endpoint { id } } }',
        token=tenant.app_token,
    )
    endpoint_id = created["createWebhookEndpoint"]["endpoint"]["id"]
    await webhook_store.deliveries(store).insert_many(_deliveries(endpoint_id, 5, clock.now()))
    with command_log.capturing() as sent:
        assert_no_errors(await gateway.execute(DELETE_GONE, token=tenant.app_token))
        assert_no_errors(
            await gateway.execute(
                "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId } }",
                {"id": endpoint_id},
                token=tenant.app_token,
            )
        )
    touched = {command["delete"] for command in _deletes(sent)}
    assert touched.isdisjoint({"history", "webhook_deliveries"}), touched
    assert await webhook_store.deliveries(store).count_documents({"endpointId": endpoint_id}) == 5  # until purged


async def _user_id(gateway: Gateway, tenant: Tenant, store: Store, fields: dict[str, Any]) -> str:
    answer = await gateway.data(UPSERT, {"input": fields}, token=tenant.app_token)
    assert answer["upsertUser"]["userErrors"] == [], answer
    user_id = decode_id(answer["upsertUser"]["user"]["id"], "User", ("id",))
    return user_id


async def _past(store: Store, tenant: Tenant, user_id: str, count: int) -> None:
    events = [{"_id": ObjectId(), "appId": tenant.app_id, "userId": user_id, "kind": "UPDATED"} for _ in range(count)]
    await store.history.insert_many(events)


async def _events_of(store: Store, tenant: Tenant, user_id: str) -> int:
    return await store.history.count_documents({"appId": tenant.app_id, "userId": user_id})


async def _merge(gateway: Gateway, tenant: Tenant, target: dict[str, str], source: dict[str, str]) -> None:
    merged = await gateway.data(MERGE, {"target": target, "source": source}, token=tenant.app_token)
    assert merged["mergeUsers"]["userErrors"] == [], merged


async def test_a_merge_moves_the_absorbed_history_after_its_unit_in_batches(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    target = await _user_id(gateway, tenant, store, {"externalUserId": "keeper"})
    source = await _user_id(gateway, tenant, store, {"emails": ["lead@example.com"]})
    await _past(store, tenant, source, PURGE_BATCH + 30)
    before = await _events_of(store, tenant, target) + await _events_of(store, tenant, source)
    with command_log.capturing() as sent:
        await _merge(gateway, tenant, {"externalUserId": "keeper"}, {"email": "lead@example.com"})
    assert not [command for command in sent if command.get("update") == "history"]  # none in the request
    await purge_now(store)
    assert await _events_of(store, tenant, source) == 0
    assert await _events_of(store, tenant, target) == before + 1  # and the merge's own event


async def test_a_chain_of_merges_ends_with_every_event_at_the_last_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    first = await _user_id(gateway, tenant, store, {"emails": ["a@example.com"]})
    second = await _user_id(gateway, tenant, store, {"emails": ["b@example.com"]})
    last = await _user_id(gateway, tenant, store, {"externalUserId": "last"})
    await _past(store, tenant, first, PURGE_BATCH + 5)
    total = sum([await _events_of(store, tenant, user) for user in (first, second, last)])
    await _merge(gateway, tenant, {"email": "b@example.com"}, {"email": "a@example.com"})
    await _merge(gateway, tenant, {"externalUserId": "last"}, {"email": "b@example.com"})  # before any move ran
    await purge_now(store)
    assert [await _events_of(store, tenant, user) for user in (first, second)] == [0, 0]
    assert await _events_of(store, tenant, last) == total + 2  # and the two merges' events


async def test_erasing_the_user_that_absorbed_another_erases_the_history_still_moving(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    target = await _user_id(gateway, tenant, store, {"externalUserId": "erased-keeper"})
    source = await _user_id(gateway, tenant, store, {"emails": ["moving@example.com"]})
    await _past(store, tenant, source, PURGE_BATCH + 5)
    await _merge(gateway, tenant, {"externalUserId": "erased-keeper"}, {"email": "moving@example.com"})
    moving = (await purges.due(store, 100))[0]
    await purges.run_batch(store, moving)  # one batch has moved when the erasure comes
    erased = await gateway.data(DELETE_KEEPER, token=tenant.app_token)
    assert erased["deleteUser"]["userErrors"] == []
    assert await purges.run_batch(store, moving) == (0, True)  # the move sees its record gone
    await purge_now(store)
    assert [await _events_of(store, tenant, user) for user in (target, source)] == [0, 0]


async def test_a_move_batch_that_fails_moves_nothing_and_the_next_round_finishes(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    from tests.domain.test_write_atomicity import Steps, hooked

    target = await _user_id(gateway, tenant, store, {"externalUserId": "steady"})
    source = await _user_id(gateway, tenant, store, {"emails": ["flaky@example.com"]})
    await _past(store, tenant, source, 10)
    await _merge(gateway, tenant, {"externalUserId": "steady"}, {"email": "flaky@example.com"})
    moving = [purge for purge in await purges.due(store, 100) if purge["owner"] == [tenant.app_id, source]]
    before = await _events_of(store, tenant, source)
    with hooked(Steps(fail_at=2)), pytest.raises(StoreUnreachable):  # the record touched; the events' update fails
        await purges.run_batch(store, moving[0])
    assert await _events_of(store, tenant, source) == before
    assert await purges.run_batch(store, moving[0]) == (before, True)
    assert await _events_of(store, tenant, source) == 0 and await _events_of(store, tenant, target) > before


async def test_processes_moving_at_once_move_each_event_once(own_database: Own) -> None:
    # A database of its own: the test store's history is large by now, and the memory engine's
    # inserts slow down with it.
    store, _, _ = own_database
    count = 2 * PURGE_BATCH + 10
    await store.history.insert_many([{"_id": ObjectId(), "appId": "app_mv", "userId": "source"} for _ in range(count)])
    record = {"_id": purges.purge_id(purges.HISTORY_MOVE, ["app_mv", "source"]), "target": purges.HISTORY_MOVE}
    await purges.collection(store).insert_one({**record, "owner": ["app_mv", "source"], "to": "target"})
    moving = (await purges.due(store, 1))[0]

    async def worker() -> None:
        finished = False
        while not finished:
            _, finished = await purges.run_batch(store, moving)

    await asyncio.gather(*(worker() for _ in range(3)))
    assert await store.history.count_documents({"userId": "source"}) == 0
    assert await store.history.count_documents({"userId": "target"}) == count
    assert await purges.due(store, 1) == []


DELETE_KEEPER = 'mutation { deleteUser(by: {externalUserId: "erased-keeper"}) { userErrors { code } } }'
