"""bulkUpsertUsers: per-record answers, one bulk write per call, the 1,000-record limit."""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

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
    seeded = await _bulk(
        gateway, tenant, [{"externalUserId": "b-0", "emails": ["zero@example.com"], "phones": ["+4915112345678"]}]
    )
    assert seeded["status"] == "SUCCESS"
    records: list[dict[str, Any]] = [
        {
            "externalUserId": "b-1",
            "emails": ["one@example.com"],
            "customAttributes": [{"key": "ltv", "value": {"number": "1.5"}}],
        },
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
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    await _bulk(gateway, tenant, [{"externalUserId": f"c-{n}"} for n in range(3)])

    async def sent(records: list[dict[str, object]]) -> Counter[str]:
        with command_log.recording() as commands:
            payload = await _bulk(gateway, tenant, records)
        assert payload["status"] == "SUCCESS"
        collections = (" users", " history", " identifier_registry")
        return Counter({name: count for name, count in commands.items() if name.endswith(collections)})

    def changed(size: int) -> list[dict[str, object]]:
        return [{"externalUserId": f"c-{n}", "givenName": f"g{size}"} for n in range(size)]

    small = await sent(changed(2))  # updates only
    large = await sent(changed(12))  # 3 updates, 9 new users
    new_only = await sent([{"externalUserId": f"new-{n}"} for n in range(20)])
    # The identifiers resolve through one registry find by _id, their holders through one
    # users find by _id (none when nobody holds them).
    looked_up = {"find identifier_registry": 1, "find users": 1}
    assert small == Counter({**looked_up, "update users": 1, "insert history": 1})
    # One unordered bulk write: new users go out as one insert command, changed ones as one
    # update command, their identifiers as one registry insert, whatever the batch size.
    new = {"insert identifier_registry": 1, "insert users": 1}
    assert large == Counter({**looked_up, **new, "update users": 1, "insert history": 1})
    assert new_only == Counter({"find identifier_registry": 1, **new, "insert history": 1})


async def test_more_than_a_thousand_records_are_refused(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    payload = await _bulk(gateway, tenant, [{"externalUserId": f"x-{n}"} for n in range(1001)])
    assert payload["status"] == "FAIL"
    assert payload["userErrors"] == [{"code": "LIMIT_EXCEEDED", "field": ["records"]}]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_a_batch_where_every_record_fails(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _bulk(gateway, tenant, [{"emails": ["bad"]}, {"phones": ["12"]}])
    assert (payload["status"], payload["succeeded"], payload["failed"]) == ("FAIL", 0, 2)
    assert [f["code"] for f in payload["failures"]] == ["INVALID_EMAIL", "INVALID_PHONE"]


async def test_lists_and_objects_in_bulk_records(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await gateway.data(
        'mutation { defineAttribute(input: {name: "scores", type: LIST_OF_NUMBERS}) { userErrors { code } } }',
        token=tenant.app_token,
    )
    records = [
        {
            "externalUserId": "b-1",
            "customAttributes": [
                {"key": "wishlist", "value": {"strings": ["iphone12"]}},
                {"key": "scores", "value": {"numbers": ["1", "2.5"]}},
                {"key": "address", "value": {"object": {"geo": {"lat": 45.8}, "since": "2020"}}},
            ],
        },
        {"externalUserId": "b-2", "customAttributes": [{"key": "scores", "value": {"strings": ["x"]}}]},
        {"externalUserId": "b-3", "customAttributes": [{"key": "o", "value": {"object": {"a.b": 1}}}]},
    ]
    payload = await _bulk(gateway, tenant, records)
    assert (payload["succeeded"], payload["failed"]) == (1, 2)
    assert [(failure["index"], failure["code"]) for failure in payload["failures"]] == [
        (1, "TYPE_MISMATCH"),
        (2, "RESERVED_KEY"),
    ]
    stored = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "b-1"})
    assert stored is not None
    assert stored["attrMeta"]["scores"]["type"] == "LIST_OF_NUMBERS"
    assert stored["attrs"]["address"]["since"] == "2020"
