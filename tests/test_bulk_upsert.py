"""bulkUpsertUsers: per-record answers, one bulk write per call, the 1,000-record limit."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import CommandLog, Gateway, Tenant

BULK = """
mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) {
    status total succeeded failed
    failures { index code message field }
    userErrors { code field }
  }
}
"""
DEFINE = 'mutation { defineAttribute(input: {name: "ltv", type: NUMBER}) { userErrors { code } } }'


async def _bulk(gateway: Gateway, tenant: Tenant, records: list[dict[str, Any]]) -> dict[str, Any]:
    data = await gateway.data(BULK, {"records": records}, token=tenant.app_token)
    payload: dict[str, Any] = data["bulkUpsertUsers"]
    return payload


async def test_each_record_is_answered_in_input_order(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await gateway.data(DEFINE, token=tenant.app_token)
    seeded = await _bulk(gateway, tenant, [{"externalUserId": "b-0", "emails": ["zero@example.com"], "phones": ["+4915112345678"]}])
    assert seeded["status"] == "SUCCESS"
    records: list[dict[str, Any]] = [
        {"externalUserId": "b-1", "emails": ["one@example.com"], "customAttributes": [{"key": "ltv", "value": {"number": "1.5"}}]},
        {"externalUserId": "b-2", "emails": ["not an address"]},
        {"externalUserId": "b-0", "tags": ["vip"]},
        {"externalUserId": "b-1", "givenName": "again"},
        {"externalUserId": "b-3", "phones": ["+4915112345678"]},
        {"externalUserId": "b-4", "customAttributes": [{"key": "ltv", "value": {"string": "high"}}]},
        {"givenName": "nobody"},
        {"emails": ["Zero@Example.com"], "surname": "Null"},
    ]
    payload = await _bulk(gateway, tenant, records)
    assert (payload["status"], payload["total"], payload["succeeded"], payload["failed"]) == ("PARTIAL", 8, 2, 6)
    assert [(f["index"], f["code"], f["field"]) for f in payload["failures"]] == [
        (1, "INVALID_EMAIL", ["records", "1", "emails", "0"]),
        (3, "INVALID_INPUT", ["records", "3", "externalUserId"]),  # duplicate inside the batch
        (4, "USER_MERGE_INTERRUPTED", ["records", "4", "phones", "0"]),  # held by b-0
        (5, "TYPE_MISMATCH", ["records", "5", "customAttributes", "0", "value"]),
        (6, "INVALID_INPUT", ["records", "6"]),  # names no user
        (7, "INVALID_INPUT", ["records", "7"]),  # the same user as record 2
    ]
    assert "record 0" in payload["failures"][1]["message"]
    stored = {
        document["externalUserId"]: document
        async for document in store.users.find({"appId": tenant.app_id}).sort("externalUserId", 1)
    }
    assert sorted(stored) == ["b-0", "b-1"]
    assert stored["b-0"]["tags"] == ["vip"] and stored["b-0"]["version"] == 1
    assert str(stored["b-1"]["attrs"]["ltv"]) == "1.5"
    events = await store.history.count_documents({"appId": tenant.app_id})
    assert events == 3  # created b-0, created b-1, updated b-0


async def test_one_bulk_write_per_call_whatever_the_size(
    gateway: Gateway, tenant: Tenant, commands: CommandLog
) -> None:
    await _bulk(gateway, tenant, [{"externalUserId": f"c-{n}"} for n in range(3)])

    async def count(size: int) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
        records = [{"externalUserId": f"c-{n}", "givenName": f"g{size}"} for n in range(size)]
        commands.clear()
        payload = await _bulk(gateway, tenant, records)
        assert payload["status"] == "SUCCESS"
        sent = list(commands.commands)
        return sent, {name: commands.on(name) for name in ("users", "history")}

    async def count_new(size: int) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
        commands.clear()
        payload = await _bulk(gateway, tenant, [{"externalUserId": f"new-{n}"} for n in range(size)])
        assert payload["status"] == "SUCCESS"
        return list(commands.commands), {name: commands.on(name) for name in ("users", "history")}

    small, small_by_collection = await count(2)  # updates only
    large, large_by_collection = await count(12)  # 3 updates, 9 new users
    assert small_by_collection == {"users": ["find", "update"], "history": ["insert"]}
    # One bulk write: new users go out as one insert command, changed ones as one update command.
    assert large_by_collection == {"users": ["find", "insert", "update"], "history": ["insert"]}
    assert len(large) == len(small) + 1
    new_only, new_only_by_collection = await count_new(20)
    assert new_only_by_collection == {"users": ["find", "insert"], "history": ["insert"]}
    assert len(new_only) == len(small)


async def test_more_than_a_thousand_records_are_refused(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    payload = await _bulk(gateway, tenant, [{"externalUserId": f"x-{n}"} for n in range(1001)])
    assert payload["status"] == "FAIL"
    assert payload["userErrors"] == [{"code": "LIMIT_EXCEEDED", "field": ["records"]}]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_a_batch_where_every_record_fails(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _bulk(gateway, tenant, [{"emails": ["bad"]}, {"phones": ["12"]}])
    assert (payload["status"], payload["succeeded"], payload["failed"]) == ("FAIL", 0, 2)
    assert [f["code"] for f in payload["failures"]] == ["INVALID_EMAIL", "INVALID_PHONE"]
