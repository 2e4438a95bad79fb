"""Every hot query shape the gateway issues is served by an index on MongoDB.

The shapes are not restated here: each case runs the real request through the gateway,
captures the commands it sent, and asks MongoDB to `explain()` each read (find, aggregate,
count, findAndModify, update, delete). A `COLLSCAN` in a winning plan fails the test.
MongoDB only: the embedded store's explain output does not describe MongoDB's planner, so
without MONGODB_URI the module is skipped (the CI workflow's MongoDB job runs it).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.domain import clock
from app.domain.housekeeping import Housekeeping
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime
from app.store.client import Store
from tests.commands import CommandLog
from tests.events.test_webhooks import DelivererClient, create_endpoint, runtime
from tests.helpers import Gateway, Tenant
from tests.identity_ops import UPSERT, register, register_anonymous, session_headers

__all__ = ["runtime"]  # a fixture: webhooks to http://127.0.0.1 allowed

on_mongodb = pytest.mark.skipif(
    not os.environ.get("MONGODB_URI"),
    reason="needs MONGODB_URI: query plans are MongoDB's (the embedded store has no planner to prove)",
)

EXPLAINABLE = frozenset({"find", "aggregate", "count", "findAndModify", "update", "delete", "distinct"})
# Fields of a sent command that belong to its session, transaction or time limit, not to
# its shape; explain runs outside any transaction.
SESSION_FIELDS = frozenset(
    {
        "lsid",
        "$db",
        "$clusterTime",
        "txnNumber",
        "startTransaction",
        "autocommit",
        "readConcern",
        "writeConcern",
        "$readPreference",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
        "maxTimeMS",
    }
)

USER_BY_ID = "query($id: ID!) { user(by: {id: $id}) { id installations { id } } }"
PAGE = """
query($filter: UserFilter) {
  users(first: 20, filter: $filter) {
    totalCount userErrors { code message field }
    nodes { id installations { id } history(first: 5) { edges { node { kind } } } }
  }
}
"""
FEED = "query { changeEvents(first: 20) { edges { cursor } pageInfo { hasNextPage } } }"
ME = "query { me { id } }"
TAG = 'mutation($id: ID!) { addTags(by: {id: $id}, tags: ["seen"]) { userErrors { code } } }'

Request = Callable[[Gateway, Tenant], Awaitable[Any]]


def _scans(plan: Any) -> list[str]:
    """Stages named COLLSCAN anywhere under a winningPlan of this explain output."""
    found: list[str] = []

    def walk(node: Any, in_winning: bool) -> None:
        if isinstance(node, dict):
            if in_winning and node.get("stage") == "COLLSCAN":
                found.append(str(node))
            for key, value in node.items():
                if key == "rejectedPlans":
                    continue
                walk(value, in_winning or key == "winningPlan")
        elif isinstance(node, list):
            for item in node:
                walk(item, in_winning)

    walk(plan, False)
    return found


async def _explain(store: Store, command: dict[str, Any]) -> dict[str, Any]:
    shape = {key: value for key, value in command.items() if key not in SESSION_FIELDS}
    result: dict[str, Any] = await store.db.command({"explain": shape, "verbosity": "queryPlanner"})
    return result


async def _user(gateway: Gateway, tenant: Tenant, external_id: str) -> str:
    upsert = {"input": {"externalUserId": external_id, "tags": ["vip"]}}
    data = await gateway.data(UPSERT, upsert, token=tenant.app_token)
    user_id: str = data["upsertUser"]["user"]["id"]
    return user_id


async def _user_by_id(gateway: Gateway, tenant: Tenant) -> None:
    user_id = await _user(gateway, tenant, "plan-by-id")
    await gateway.data(USER_BY_ID, {"id": user_id}, token=tenant.app_token)


def _page(filter_: dict[str, Any] | None) -> Request:
    async def request(gateway: Gateway, tenant: Tenant) -> None:
        page = await gateway.data(PAGE, {"filter": filter_}, token=tenant.app_token)
        assert page["users"]["userErrors"] == []

    return request


DEFINE = 'mutation { defineAttribute(input: {name: "ltv", type: NUMBER}) { userErrors { code } } }'


async def _attribute_range(gateway: Gateway, tenant: Tenant) -> None:
    defined = await gateway.data(DEFINE, token=tenant.app_token)
    assert defined["defineAttribute"]["userErrors"] == []
    in_range = [{"key": "ltv", "gte": {"number": "10"}}, {"key": "ltv", "lt": {"number": "100"}}]
    await _page({"attributes": in_range})(gateway, tenant)


async def _feed(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(FEED, token=tenant.app_token)


async def _idempotent(gateway: Gateway, tenant: Tenant) -> None:
    user_id = await _user(gateway, tenant, "plan-idem")
    for _ in range(2):  # the record is written, then read back for the retry
        headers = {"idempotency-key": "plan-1"}
        response = await gateway.post(TAG, {"id": user_id}, token=tenant.app_token, headers=headers)
        assert response.status_code == 200


async def _session(gateway: Gateway, tenant: Tenant) -> None:
    _, token = await register_anonymous(gateway, tenant, "plan-device-anon")
    await gateway.data(ME, headers=session_headers(token))


async def _device_gains_a_token(gateway: Gateway, tenant: Tenant) -> None:
    # The user's push types (hasChannel) are recomputed from its installations at commit.
    await register(gateway, tenant, "plan-device", pushToken="t" * 64)


async def _merge(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "plan-keeper")
    lead = await gateway.data(UPSERT, {"input": {"emails": ["plan-lead@example.com"]}}, token=tenant.app_token)
    assert lead["upsertUser"]["userErrors"] == []
    merge = 'mutation { mergeUsers(target: {externalUserId: "plan-keeper"}, source: {email: "plan-lead@example.com"}) '
    merged = await gateway.data(merge + "{ userErrors { code } } }", token=tenant.app_token)
    assert merged["mergeUsers"]["userErrors"] == []


# name → (request, collections whose commands the request must have sent, so the case
# really covers its shape)
CASES: dict[str, tuple[Request, set[str]]] = {
    "user by _id, installations by user": (_user_by_id, {"users", "installations"}),
    "users page, history page": (_page(None), {"users", "history", "installations"}),
    "users page by type": (_page({"type": "LEAD"}), {"users"}),
    "users page by tags": (_page({"tagsAll": ["vip"], "tagsAny": ["vip", "new"]}), {"users"}),
    "users page by attribute range": (_attribute_range, {"users"}),
    "users page by channel type": (_page({"hasChannel": "EMAIL"}), {"users"}),
    # No index narrows `exists: false`: the window's end (ids in _id order), then the page within it.
    "users page by a missing attribute": (_page({"attributes": [{"key": "ltv", "exists": False}]}), {"users"}),
    "change feed page": (_feed, {"outbox"}),
    "rate-limit bucket": (_feed, {"rate_limits"}),
    "idempotency record": (_idempotent, {"idempotency_keys"}),
    "session by _id": (_session, {"sessions", "users"}),
    "a device gains a push token": (_device_gains_a_token, {"installations", "users"}),
    # The moves still due to the source are found by their target (the sparse move_to index).
    "a merge": (_merge, {"users", "pending_purges"}),
}


@on_mongodb
@pytest.mark.parametrize("case", list(CASES))
async def test_every_read_of_the_request_uses_an_index(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog, case: str
) -> None:
    request, expected = CASES[case]
    await register(gateway, tenant, "plan-device")  # an installation and history to page through
    with command_log.capturing() as commands:
        await request(gateway, tenant)
    reads = [command for command in commands if next(iter(command)) in EXPLAINABLE]
    touched = {str(command[next(iter(command))]) for command in reads}
    assert expected <= touched, f"{case}: expected commands on {sorted(expected)}, saw {sorted(touched)}"
    scans = []
    for command in reads:
        for stage in _scans(await _explain(store, command)):
            scans.append(f"{next(iter(command))} {command[next(iter(command))]}: {stage}")
    assert not scans, f"{case}: collection scans in winning plans:\n" + "\n".join(scans)


@on_mongodb
async def test_every_read_of_a_webhook_dispatch_round_uses_an_index(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog, runtime: Runtime
) -> None:
    """The dispatcher's rounds run in every gateway process: endpoints, counters, due
    deliveries, the outbox, leases."""
    await create_endpoint(gateway, tenant, "http://127.0.0.1:9/plan")
    await _user(gateway, tenant, "plan-webhook")  # an event to fan out and attempt
    deliverer = Dispatcher(store, runtime.box, runtime.settings)
    async with DelivererClient(deliverer):
        with command_log.capturing() as commands:
            await deliverer.run_once()
    reads = [command for command in commands if next(iter(command)) in EXPLAINABLE]
    touched = {str(command[next(iter(command))]) for command in reads}
    assert {"webhook_endpoints", "outbox_counters", "outbox", "webhook_deliveries"} <= touched, touched
    scans = [
        f"{next(iter(command))} {command[next(iter(command))]}: {stage}"
        for command in reads
        for stage in _scans(await _explain(store, command))
    ]
    assert not scans, "collection scans in winning plans:\n" + "\n".join(scans)


@on_mongodb
async def test_every_read_of_a_housekeeping_round_uses_an_index(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog, runtime: Runtime
) -> None:
    """Housekeeping runs in every gateway process: pending purges (an erased user's history and
    tombstones, a deleted endpoint's deliveries), retention (each app's events, each endpoint's deliveries)
    and the walk over anonymous leads (the apps, each app's users in id order).
    Its deletes are by ``_id`` (asserted in tests/events/test_housekeeping.py)."""
    endpoint_id, _ = await create_endpoint(gateway, tenant, "http://127.0.0.1:9/plan-purge")
    await _user(gateway, tenant, "plan-erased")
    deliverer = Dispatcher(store, runtime.box, runtime.settings)
    async with DelivererClient(deliverer):
        await deliverer.run_once()  # a delivery to purge
    erase = 'mutation { deleteUser(by: {externalUserId: "plan-erased"}) { userErrors { code } } }'
    assert (await gateway.data(erase, token=tenant.app_token))["deleteUser"]["userErrors"] == []
    delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { userErrors { code } } }"
    assert (await gateway.data(delete, {"id": endpoint_id}, token=tenant.app_token))["deleteWebhookEndpoint"]
    with command_log.capturing() as commands:
        # Reads, no deletes: nothing is old enough; the lead walk reads the apps and a page of users.
        await Housekeeping(store, 36_500, lead_retention_days=36_500, first_retention_after=timedelta(0)).run(
            clock.now()
        )
    reads = [command for command in commands if "find" in command]
    touched = {str(command["find"]) for command in reads}
    expected = {"pending_purges", "history", "users", "webhook_deliveries", "outbox_counters", "outbox", "apps"}
    assert expected <= touched, touched
    scans = [
        f"find {command['find']}: {stage}" for command in reads for stage in _scans(await _explain(store, command))
    ]
    assert not scans, "collection scans in winning plans:\n" + "\n".join(scans)


@on_mongodb
async def test_every_read_of_a_redelivery_uses_an_index(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog, runtime: Runtime
) -> None:
    """redeliverWebhookEvents: the endpoint's newest delivery, the record's upsert, a batch
    of the walk (the call's and housekeeping's)."""
    endpoint_id, _ = await create_endpoint(gateway, tenant, "http://127.0.0.1:9/plan-redeliver")
    await _user(gateway, tenant, "plan-redelivered")  # an event to fan out and attempt
    deliverer = Dispatcher(store, runtime.box, runtime.settings)
    async with DelivererClient(deliverer):
        await deliverer.run_once()
    redeliver = "mutation($id: ID!) { redeliverWebhookEvents(endpointId: $id, since: 0) { count } }"
    with command_log.capturing() as commands:
        assert (await gateway.data(redeliver, {"id": endpoint_id}, token=tenant.app_token))["redeliverWebhookEvents"]
        await Housekeeping(store, 36_500).run(clock.now())
    reads = [command for command in commands if next(iter(command)) in EXPLAINABLE]
    touched = {str(command[next(iter(command))]) for command in reads}
    assert {"webhook_deliveries", "webhook_redeliveries"} <= touched, touched
    scans = [
        f"{next(iter(command))} {command[next(iter(command))]}: {stage}"
        for command in reads
        for stage in _scans(await _explain(store, command))
    ]
    assert not scans, "collection scans in winning plans:\n" + "\n".join(scans)


# The shapes of MongoDB 8's explain output the check reads: classic and slot-based
# find plans, and an aggregate whose first stage is the cursor.
CLASSIC = {"queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {"stage": "COLLSCAN"}}}}
SLOT_BASED = {"queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN"}, "slotBasedPlan": {}}}}
AGGREGATE = {"stages": [{"$cursor": {"queryPlanner": {"winningPlan": {"stage": "COLLSCAN"}}}}, {"$group": {}}]}
INDEXED = {
    "queryPlanner": {
        "winningPlan": {"stage": "LIMIT", "inputStage": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN"}}},
        "rejectedPlans": [{"stage": "COLLSCAN"}],
    }
}


@pytest.mark.parametrize("explained", [CLASSIC, SLOT_BASED, AGGREGATE], ids=["classic", "slot-based", "aggregate"])
def test_a_collection_scan_in_the_winning_plan_is_found(explained: dict[str, Any]) -> None:
    assert len(_scans(explained)) == 1


def test_an_index_scan_passes_whatever_was_rejected() -> None:
    assert _scans(INDEXED) == []
