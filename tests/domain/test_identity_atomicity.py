"""personalize, depersonalize and merge are atomic: concurrent calls and crashes between
steps never leave two users with one identifier, a half-merged pair or a lost installation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.domain import merge
from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import MERGE, UPSERT, personalize, register, register_anonymous, user_by

PARALLEL = 8


async def snapshot(store: Store, app_id: str) -> dict[str, Any]:
    """Everything the app has in the store, for before/after comparisons."""
    result: dict[str, Any] = {}
    for collection in (store.users, store.installations, store.history, store.sessions):
        result[collection.name] = await collection.find({"appId": app_id}).sort("_id", 1).to_list()
    return result


async def test_parallel_personalize_of_one_new_identity_ends_with_one_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    for index in range(PARALLEL):
        await register_anonymous(gateway, tenant, f"dev-{index}")
    # Unrelated writes run alongside, as they would in production (the embedded server
    # holds them back while a transaction is open; see app/store/embedded_gate.py).
    others = [
        gateway.data(UPSERT, {"input": {"externalUserId": f"other-{index}"}}, token=tenant.app_token)
        for index in range(PARALLEL)
    ]
    calls = [
        personalize(
            gateway,
            tenant,
            f"dev-{index}",
            {"externalUserId": "cust-1", "emails": ["c@example.com"]},
        )
        for index in range(PARALLEL)
    ]
    results = await asyncio.gather(*calls, *others)
    payloads = results[:PARALLEL]
    assert [p["userErrors"] for p in payloads] == [[]] * PARALLEL
    assert len({p["user"]["id"] for p in payloads}) == 1
    live = await store.users.find(
        {
            "appId": tenant.app_id,
            "mergedInto": {"$exists": False},
            "externalUserId": {"$not": {"$regex": "^other-"}},
        }
    ).to_list()
    assert len(live) == 1
    assert (live[0]["externalUserId"], live[0]["emails"], live[0]["type"]) == (
        "cust-1",
        ["c@example.com"],
        "CUSTOMER",
    )
    owners = await store.installations.distinct("userId", {"appId": tenant.app_id})
    assert owners == [live[0]["_id"]]
    assert await store.installations.count_documents({"appId": tenant.app_id}) == PARALLEL
    assert await store.sessions.count_documents({"appId": tenant.app_id}) == 0


@pytest.mark.parametrize("failing_step", ["source_tombstoned", "target_updated", "installations_moved"])
async def test_a_merge_interrupted_between_steps_leaves_nothing_partial(
    gateway: Gateway,
    tenant: Tenant,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    failing_step: str,
) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice", "tags": ["a"]}}, token=tenant.app_token)
    await register_anonymous(gateway, tenant, "phone")
    await gateway.data(
        'mutation { addTags(by: {pushRegistrationId: "phone"}, tags: ["b"]) { userErrors { code } } }',
        token=tenant.app_token,
    )
    before = await snapshot(store, tenant.app_id)

    async def crash(step: str) -> None:
        if step == failing_step:
            raise RuntimeError(f"injected failure after {step}")

    monkeypatch.setattr(merge, "STEP_HOOKS", [crash])
    body = await gateway.execute(
        MERGE,
        {"target": {"externalUserId": "alice"}, "source": {"pushRegistrationId": "phone"}},
        token=tenant.app_token,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert await snapshot(store, tenant.app_id) == before
    # personalize merges the same way, and is rolled back the same way.
    body = await gateway.execute(
        'mutation { personalize(pushRegistrationId: "phone", identity: {externalUserId: "alice"}) { user { id } } }',
        token=tenant.app_token,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert await snapshot(store, tenant.app_id) == before
    # Once the fault is gone the same merge goes through completely.
    monkeypatch.setattr(merge, "STEP_HOOKS", [])
    done = await gateway.data(
        MERGE,
        {"target": {"externalUserId": "alice"}, "source": {"pushRegistrationId": "phone"}},
        token=tenant.app_token,
    )
    assert done["mergeUsers"]["user"]["tags"] == ["a", "b"]


async def test_concurrent_depersonalize_and_personalize_keep_every_installation_owned(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    for index in range(4):
        await register(gateway, tenant, f"dev-{index}")
        await personalize(gateway, tenant, f"dev-{index}", {"externalUserId": "alice"})
    calls: list[Any] = []
    for index in range(4):
        calls.append(
            gateway.data(
                "mutation($p: String!) { depersonalize(pushRegistrationId: $p) { userErrors { code } } }",
                {"p": f"dev-{index}"},
                token=tenant.app_token,
            )
        )
        calls.append(personalize(gateway, tenant, f"dev-{index}", {"externalUserId": "alice"}, force=True))
    await asyncio.gather(*calls)
    users = {u["_id"]: u for u in await store.users.find({"appId": tenant.app_id}).to_list()}
    for installation in await store.installations.find({"appId": tenant.app_id}).to_list():
        owner = users.get(installation["userId"])
        assert owner is not None and "mergedInto" not in owner
    alice = await user_by(gateway, tenant, externalUserId="alice")
    assert alice is not None
    assert len([u for u in users.values() if u.get("externalUserId") == "alice"]) == 1
