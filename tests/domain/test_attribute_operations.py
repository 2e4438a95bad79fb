"""updateCustomAttributes: six operations applied in one atomic update."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from app.domain import properties, retry
from app.domain.actor import SYSTEM
from app.domain.attributes import AttributeType, TypedValue
from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.domain.operations import AttributeOp
from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) { upsertUser(input: $input) { user { id version updatedAt } userErrors { code } } }
"""
OPS = """
mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) {
    user { version updatedAt customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
BY = {"externalUserId": "ops-1"}


async def _user(gateway: Gateway, tenant: Tenant, attributes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data = await gateway.data(
        UPSERT, {"input": {"externalUserId": "ops-1", "customAttributes": attributes or []}}, token=tenant.app_token
    )
    user: dict[str, Any] = data["upsertUser"]["user"]
    return user


async def _ops(gateway: Gateway, tenant: Tenant, ops: list[dict[str, Any]]) -> dict[str, Any]:
    data = await gateway.data(OPS, {"by": BY, "ops": ops}, token=tenant.app_token)
    payload: dict[str, Any] = data["updateCustomAttributes"]
    return payload


def _values(payload: dict[str, Any]) -> dict[str, Any]:
    return {item["key"]: item["value"] for item in payload["user"]["customAttributes"]}


async def test_all_six_operations_in_one_call(gateway: Gateway, tenant: Tenant) -> None:
    before = await _user(
        gateway,
        tenant,
        [
            {"key": "plan", "value": {"string": "free"}},
            {"key": "orders", "value": {"objects": [{"sku": "a"}, {"sku": "b"}]}},
            {"key": "old", "value": {"boolean": True}},
        ],
    )
    payload = await _ops(
        gateway,
        tenant,
        [
            {"set": {"key": "city", "value": {"string": "Berlin"}}},
            {"setOnce": {"key": "plan", "value": {"string": "pro"}}},
            {"setOnce": {"key": "firstSeen", "value": {"date": "2024-05-01"}}},
            {"increment": {"key": "visits", "amount": "2"}},
            {"append": {"key": "orders", "value": {"objects": [{"sku": "c"}]}}},
            {"remove": {"key": "cart", "value": {"objects": [{"sku": "x"}]}}},
            {"unset": "old"},
        ],
    )
    assert payload["userErrors"] == []
    assert _values(payload) == {
        "city": "Berlin",
        "plan": "free",  # setOnce keeps an existing value
        "firstSeen": "2024-05-01",
        "visits": "2",  # a missing key counts as 0
        "orders": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}],
    }  # remove on a missing key leaves it missing; unset removed "old"
    assert payload["user"]["version"] == before["version"] + 1
    assert payload["user"]["updatedAt"] != before["updatedAt"]

    removed = await _ops(
        gateway,
        tenant,
        [
            {"remove": {"key": "orders", "value": {"objects": [{"sku": "a"}, {"sku": "c"}]}}},
            {"increment": {"key": "visits", "amount": "-0.5"}},
        ],
    )
    assert _values(removed)["orders"] == [{"sku": "b"}]
    assert _values(removed)["visits"] == "1.5"


async def test_decimal_increments_are_exact(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant)
    for _ in range(3):
        payload = await _ops(gateway, tenant, [{"increment": {"key": "balance", "amount": "0.1"}}])
    assert _values(payload)["balance"] == "0.3"


async def test_parallel_increments_lose_nothing(gateway: Gateway, tenant: Tenant) -> None:
    before = await _user(gateway, tenant)
    results = await asyncio.gather(
        *(_ops(gateway, tenant, [{"increment": {"key": "clicks", "amount": "1"}}]) for _ in range(40))
    )
    assert all(result["userErrors"] == [] for result in results)
    final = await _ops(gateway, tenant, [{"increment": {"key": "clicks", "amount": "0"}}])
    assert _values(final)["clicks"] == "40"
    assert final["user"]["version"] == before["version"] + 41


async def test_a_batch_with_an_invalid_operation_stores_nothing(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _user(gateway, tenant, [{"key": "name", "value": {"string": "Ada"}}])
    stored_before = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "ops-1"})
    cases: list[tuple[list[dict[str, Any]], str, list[str]]] = [
        # two operations on one key
        (
            [{"set": {"key": "a", "value": {"string": "x"}}}, {"increment": {"key": "a", "amount": "1"}}],
            "INVALID_INPUT",
            ["ops", "1", "increment", "key"],
        ),
        # increment on a STRING: found by the store's guard, not by a read before the write
        (
            [{"set": {"key": "b", "value": {"string": "x"}}}, {"increment": {"key": "name", "amount": "1"}}],
            "TYPE_MISMATCH",
            ["ops", "1", "increment", "key"],
        ),
        # append to a non-list
        (
            [{"increment": {"key": "c", "amount": "1"}}, {"append": {"key": "name", "value": {"objects": [{"a": 1}]}}}],
            "TYPE_MISMATCH",
            ["ops", "1", "append", "key"],
        ),
        # append takes list items: a string, a number, lists or objects
        ([{"append": {"key": "d", "value": {"boolean": True}}}], "TYPE_MISMATCH", ["ops", "0", "append", "value"]),
        ([{"increment": {"key": "e", "amount": "ten"}}], "TYPE_MISMATCH", ["ops", "0", "increment", "amount"]),
        ([{"unset": "$where"}], "RESERVED_KEY", ["ops", "0", "unset"]),
    ]
    for ops, code, field in cases:
        payload = await _ops(gateway, tenant, ops)
        assert payload["user"] is None
        assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [(code, field)], ops
    stored_after = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "ops-1"})
    assert stored_after == stored_before


async def test_values_that_look_like_operators_are_stored_as_text(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant)
    payload = await _ops(
        gateway,
        tenant,
        [
            {"set": {"key": "a", "value": {"string": "$version"}}},
            {"setOnce": {"key": "b", "value": {"objects": [{"f": "$$ROOT"}]}}},
        ],
    )
    assert _values(payload) == {"a": "$version", "b": [{"f": "$$ROOT"}]}


async def test_user_tokens_reach_only_their_own_user(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant)
    own = await gateway.data(
        OPS, {"by": BY, "ops": [{"increment": {"key": "n", "amount": "1"}}]}, token=tenant.user_token("ops-1")
    )
    assert own["updateCustomAttributes"]["userErrors"] == []
    other = await gateway.execute(
        OPS, {"by": BY, "ops": [{"increment": {"key": "n", "amount": "1"}}]}, token=tenant.user_token("someone")
    )
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_limits_are_conditions_of_the_update(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    full = [{"n": index} for index in range(100)]
    await _user(gateway, tenant, [{"key": "events", "value": {"objects": full}}])
    payload = await _ops(
        gateway,
        tenant,
        [
            {"increment": {"key": "visits", "amount": "1"}},
            {"append": {"key": "events", "value": {"objects": [{"n": 100}]}}},
        ],
    )
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [
        ("LIMIT_EXCEEDED", ["ops", "1", "append", "value"])
    ]
    stored = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "ops-1"})
    assert stored is not None and "visits" not in stored["attrs"] and len(stored["attrs"]["events"]) == 100


async def test_installations_take_the_same_operations(store: Store, tenant: Tenant) -> None:
    await store.installations.insert_one(
        {
            "_id": "inst-1",
            "appId": tenant.app_id,
            "pushRegistrationId": "prid-1",
            "userId": "u",
            "attrs": {},
            "attrMeta": {},
        }
    )
    ops = [
        AttributeOp("increment", "launches", amount="1"),
        AttributeOp("setOnce", "firstLaunch", TypedValue(AttributeType.DATE, date(2024, 5, 1))),
    ]
    await properties.update_installation_attributes(store, tenant.app_id, SYSTEM, "prid-1", ops)
    updated = await properties.update_installation_attributes(store, tenant.app_id, SYSTEM, "prid-1", ops[:1])
    assert str(updated["attrs"]["launches"]) == "2"
    assert updated["attrMeta"]["firstLaunch"]["type"] == "DATE"
    with pytest.raises(DomainError) as missing:
        await properties.update_installation_attributes(store, tenant.app_id, SYSTEM, "prid-unknown", ops)
    assert missing.value.code == "NOT_FOUND"


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded", "mongodb"])
async def test_both_ways_of_applying_operations_give_the_same_answers(
    gateway: Gateway, tenant: Tenant, store: Store, embedded: bool
) -> None:
    """MongoDB applies a plan as one guarded update of the document its selector names; the
    embedded store, for a document named by anything but its _id (an installation), looks
    the _id up first and addresses the same guarded update by it. Both are run here, on the
    embedded store, so neither way goes untested without MongoDB."""
    way = Store(client=store.client, db=store.db, embedded_workarounds=embedded)
    prid = f"prid-both-{embedded}"
    await store.installations.insert_one(
        {"_id": f"inst-{embedded}", "appId": tenant.app_id, "pushRegistrationId": prid, "userId": "u", "attrs": {}}
    )
    plan_is_text = AttributeOp("set", "plan", TypedValue(AttributeType.STRING, "free"))
    await properties.update_installation_attributes(way, tenant.app_id, SYSTEM, prid, [plan_is_text])
    amount = AttributeOp("increment", "visits", amount="2")
    updated = await properties.update_installation_attributes(way, tenant.app_id, SYSTEM, prid, [amount])
    assert str(updated["attrs"]["visits"]) == "2"
    on_a_string = AttributeOp("increment", "plan", amount="1")
    with pytest.raises(DomainErrors) as refused:
        await properties.update_installation_attributes(way, tenant.app_id, SYSTEM, prid, [on_a_string])
    assert [error.code for error in refused.value.errors] == [ErrorCode.TYPE_MISMATCH]
    stored = await store.installations.find_one({"_id": f"inst-{embedded}"})
    assert stored is not None and stored["attrs"] == updated["attrs"]
    for owner, registration in (("someone-else", prid), (None, "prid-unknown")):
        with pytest.raises(DomainError) as missing:
            await properties.update_installation_attributes(
                way, tenant.app_id, SYSTEM, registration, [amount], owner_id=owner
            )
        assert missing.value.code == ErrorCode.NOT_FOUND


async def test_an_installation_registered_anew_between_the_look_up_and_the_update_takes_the_write(
    gateway: Gateway, tenant: Tenant, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the embedded store an installation's _id is looked up before the transaction. If
    the registration is deleted and made anew in between (a new _id), the update misses the
    old _id and the unit runs again on a fresh look-up: the write lands on the installation
    as it now is, never on nothing."""
    document = {"appId": tenant.app_id, "pushRegistrationId": "prid-anew", "userId": "u", "attrs": {}}
    await store.installations.insert_one({"_id": "inst-old", **document})
    way = Store(client=store.client, db=store.db, embedded_workarounds=True)
    attempts: list[int] = []
    run_unit = retry.retry_transaction

    async def with_a_new_registration_in_between(*args: Any, before_each: Any, **kwargs: Any) -> Any:
        async def look_up_then_register_anew(attempt: int) -> None:
            await before_each(attempt)
            attempts.append(attempt)
            if attempt == 0:
                await store.installations.delete_one({"_id": "inst-old"})
                await store.installations.insert_one({"_id": "inst-new", **document})

        return await run_unit(*args, before_each=look_up_then_register_anew, **kwargs)

    monkeypatch.setattr(properties, "retry_transaction", with_a_new_registration_in_between)
    launch = AttributeOp("increment", "launches", amount="1")
    updated = await properties.update_installation_attributes(way, tenant.app_id, SYSTEM, "prid-anew", [launch])
    assert (updated["_id"], str(updated["attrs"]["launches"])) == ("inst-new", "1")
    assert attempts == [0, 1]
