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


@pytest.mark.parametrize("read_first", [True, False], ids=["embedded-read-first", "guarded-update"])
async def test_both_ways_of_applying_operations_give_the_same_answers(
    gateway: Gateway, tenant: Tenant, store: Store, read_first: bool
) -> None:
    """The embedded store applies a plan after reading the document (its planner scans for
    guarded filters); MongoDB applies it as one guarded update. Both are run here, on the
    embedded store, so neither way goes untested without MongoDB."""
    way = Store(client=store.client, db=store.db, embedded_workarounds=read_first)
    user = await _user(gateway, tenant, [{"key": "plan", "value": {"string": "free"}}])
    held = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "ops-1"})
    assert held is not None
    internal_id = held["_id"]
    amount = AttributeOp("increment", "visits", amount="2")
    updated = await properties.update_user_attributes(way, tenant.app_id, SYSTEM, internal_id, [amount])
    assert str(updated["attrs"]["visits"]) == "2"
    assert updated["version"] == user["version"] + 1
    on_a_string = AttributeOp("increment", "plan", amount="1")
    with pytest.raises(DomainErrors) as refused:
        await properties.update_user_attributes(way, tenant.app_id, SYSTEM, internal_id, [on_a_string])
    assert [error.code for error in refused.value.errors] == [ErrorCode.TYPE_MISMATCH]
    stored = await store.users.find_one({"_id": internal_id})
    assert stored is not None and stored["version"] == updated["version"] and stored["attrs"]["plan"] == "free"
    with pytest.raises(DomainError) as missing:
        await properties.update_user_attributes(way, tenant.app_id, SYSTEM, "no-such-user", [amount])
    assert missing.value.code == ErrorCode.NOT_FOUND


async def test_a_write_between_the_read_ahead_and_the_update_is_neither_lost_nor_overwritten(
    gateway: Gateway, tenant: Tenant, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded store's way reads the document before the transaction. A write landing
    between that read and the update makes the update miss the version it read, so the unit
    runs again on a fresh read, and both increments count."""
    user = await _user(gateway, tenant)
    held = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "ops-1"})
    assert held is not None
    way = Store(client=store.client, db=store.db, embedded_workarounds=True)
    attempts: list[int] = []
    run_unit = retry.retry_transaction

    async def with_a_write_in_between(*args: Any, before_each: Any, **kwargs: Any) -> Any:
        async def read_ahead_then_another_write(attempt: int) -> None:
            await before_each(attempt)
            if not attempts:
                attempts.append(attempt)
                other = AttributeOp("increment", "visits", amount="10")
                await properties.update_user_attributes(way, tenant.app_id, SYSTEM, held["_id"], [other])
            else:
                attempts.append(attempt)

        return await run_unit(*args, before_each=read_ahead_then_another_write, **kwargs)

    monkeypatch.setattr(properties, "retry_transaction", with_a_write_in_between)
    mine = AttributeOp("increment", "visits", amount="1")
    updated = await properties.update_user_attributes(way, tenant.app_id, SYSTEM, held["_id"], [mine])
    assert str(updated["attrs"]["visits"]) == "11"
    assert updated["version"] == user["version"] + 2
    assert attempts == [0, 0, 1]  # mine, the other write's only attempt, mine again
