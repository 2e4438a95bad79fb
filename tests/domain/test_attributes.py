"""Typed custom attributes: all six types round-trip, NUMBER stays decimal, keys are checked."""

from __future__ import annotations

from typing import Any

import pytest
from bson.decimal128 import Decimal128

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) {
    user { id version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
OPS = """
mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) {
    user { version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
READ = """
query($id: String!) {
  user(by: {externalUserId: $id}) { customAttributes { key type value } plan: customAttribute(key: "plan") { value } }
}
"""


async def _upsert(gateway: Gateway, tenant: Tenant, attributes: list[dict[str, Any]], uid: str = "u-1") -> Any:
    record = {"externalUserId": uid, "customAttributes": attributes}
    return (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_all_six_types_round_trip(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    sent = [
        {"key": "plan", "value": {"string": "pro ✓"}},
        {"key": "ltv", "value": {"number": "149.99"}},
        {"key": "vip", "value": {"boolean": False}},
        {"key": "renewal", "value": {"date": "2024-02-29"}},
        {"key": "lastOrderAt", "value": {"datetime": "2024-05-01T12:30:00+02:00"}},
        {
            "key": "orders",
            "value": {
                "objects": [
                    {"sku": "A-1", "price": "9.95", "qty": 2, "gift": True, "note": None},
                    {"sku": "B-2", "price": 0.1},
                ]
            },
        },
    ]
    payload = await _upsert(gateway, tenant, sent)
    assert payload["userErrors"] == []
    expected = [
        {"key": "lastOrderAt", "type": "DATETIME", "value": "2024-05-01T10:30:00Z"},
        {"key": "ltv", "type": "NUMBER", "value": "149.99"},
        {
            "key": "orders",
            "type": "LIST_OF_OBJECTS",
            "value": [
                # numbers stay JSON numbers inside objects; text stays text
                {"sku": "A-1", "price": "9.95", "qty": 2, "gift": True, "note": None},
                {"sku": "B-2", "price": 0.1},
            ],
        },
        {"key": "plan", "type": "STRING", "value": "pro ✓"},
        {"key": "renewal", "type": "DATE", "value": "2024-02-29"},
        {"key": "vip", "type": "BOOLEAN", "value": False},
    ]
    assert payload["user"]["customAttributes"] == expected
    read = (await gateway.data(READ, {"id": "u-1"}, token=tenant.app_token))["user"]
    assert read["customAttributes"] == expected
    assert read["plan"] == {"value": "pro ✓"}
    document = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "u-1"})
    assert document is not None
    assert isinstance(document["attrs"]["ltv"], Decimal128)
    assert isinstance(document["attrs"]["orders"][1]["price"], Decimal128)
    assert document["attrMeta"]["ltv"]["type"] == "NUMBER"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("0.1", "0.1"),
        ("0.30", "0.30"),
        ("-12.5000", "-12.5000"),
        ("1E+3", "1000"),
        ("0", "0"),
        ("1234567890123456789012345678901234", "1234567890123456789012345678901234"),
        ("0.000000000000000000000000000001", "0.000000000000000000000000000001"),
    ],
)
async def test_numbers_are_exact_decimals(
    gateway: Gateway, tenant: Tenant, store: Store, sent: str, shown: str
) -> None:
    payload = await _upsert(gateway, tenant, [{"key": "n", "value": {"number": sent}}])
    assert payload["user"]["customAttributes"] == [{"key": "n", "type": "NUMBER", "value": shown}]
    read = (await gateway.data(READ, {"id": "u-1"}, token=tenant.app_token))["user"]
    assert read["customAttributes"][0]["value"] == shown
    document = await store.users.find_one({"appId": tenant.app_id})
    assert document is not None and document["attrs"]["n"] == Decimal128(sent)


async def test_decimal_arithmetic_in_the_store_has_no_binary_drift(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _upsert(gateway, tenant, [{"key": "a", "value": {"number": "0.1"}}, {"key": "b", "value": {"number": "0.2"}}])
    summed = await store.users.aggregate(
        [{"$match": {"appId": tenant.app_id}}, {"$project": {"total": {"$add": ["$attrs.a", "$attrs.b"]}}}]
    )
    rows = await summed.to_list()
    assert rows[0]["total"].to_decimal() == Decimal128("0.3").to_decimal()


async def test_set_and_unset_operations(gateway: Gateway, tenant: Tenant) -> None:
    initial = [{"key": "plan", "value": {"string": "free"}}, {"key": "score", "value": {"number": "1"}}]
    await _upsert(gateway, tenant, initial)
    ops = [{"set": {"key": "plan", "value": {"string": "pro"}}}, {"unset": "score"}, {"unset": "never_set"}]
    payload = await gateway.data(OPS, {"by": {"externalUserId": "u-1"}, "ops": ops}, token=tenant.app_token)
    result = payload["updateCustomAttributes"]
    assert result["userErrors"] == []
    assert result["user"]["customAttributes"] == [{"key": "plan", "type": "STRING", "value": "pro"}]
    assert result["user"]["version"] == 1
    # A value may change its type; null removes.
    retyped = [{"set": {"key": "plan", "value": {"number": "2"}}}]
    result = await gateway.data(OPS, {"by": {"externalUserId": "u-1"}, "ops": retyped}, token=tenant.app_token)
    assert result["updateCustomAttributes"]["user"]["customAttributes"][0]["type"] == "NUMBER"
    removed = [{"set": {"key": "plan", "value": {"null": True}}}]
    result = await gateway.data(OPS, {"by": {"externalUserId": "u-1"}, "ops": removed}, token=tenant.app_token)
    assert result["updateCustomAttributes"]["user"]["customAttributes"] == []


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("$where", "RESERVED_KEY"),
        ("$set", "RESERVED_KEY"),
        ("a.b", "RESERVED_KEY"),
        ("ss_internal", "RESERVED_KEY"),
        ("attrs.x", "RESERVED_KEY"),
        ("1abc", "INVALID_KEY"),
        ("", "INVALID_KEY"),
        ("with-dash", "INVALID_KEY"),
        ("a" * 65, "INVALID_KEY"),
        ("_x", "INVALID_KEY"),
        ("ключ", "INVALID_KEY"),
    ],
)
async def test_key_rules(gateway: Gateway, tenant: Tenant, store: Store, key: str, code: str) -> None:
    attributes = [{"key": "ok", "value": {"string": "x"}}, {"key": key, "value": {"string": "x"}}]
    payload = await _upsert(gateway, tenant, attributes)
    assert payload["user"] is None
    assert _errors(payload) == [(code, ["input", "customAttributes", "1", "key"])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_keys_inside_objects_are_checked(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    objects = [{"fine": "1"}, {"$gt": ""}]
    payload = await _upsert(gateway, tenant, [{"key": "list", "value": {"objects": objects}}])
    assert _errors(payload) == [("RESERVED_KEY", ["input", "customAttributes", "0", "value", "1", "$gt"])]
    payload = await _upsert(gateway, tenant, [{"key": "list", "value": {"objects": [{"a.b": 1}]}}])
    assert _errors(payload) == [("RESERVED_KEY", ["input", "customAttributes", "0", "value", "0", "a.b"])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


@pytest.mark.parametrize(
    ("value", "suffix"),
    [
        ({"number": "abc"}, []),
        ({"number": "NaN"}, []),
        ({"number": "Infinity"}, []),
        ({"number": ""}, []),
        ({"datetime": "2024-05-01T12:30:00"}, []),
        ({"objects": [1]}, ["0"]),
        # a list inside an object holds one type, and no lists
        ({"objects": [{"ok": 1}, {"list": [1, "2"]}]}, ["1", "list"]),
        ({"object": {"a": {"b": [[1], [2]]}}}, ["a", "b"]),
        ({"object": [1, 2]}, []),
        ({"numbers": ["1", "one"]}, ["1"]),
    ],
)
async def test_type_mismatch(
    gateway: Gateway, tenant: Tenant, store: Store, value: dict[str, Any], suffix: list[str]
) -> None:
    payload = await _upsert(gateway, tenant, [{"key": "k", "value": value}])
    assert _errors(payload) == [("TYPE_MISMATCH", ["input", "customAttributes", "0", "value", *suffix])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_duplicate_keys_in_one_input(gateway: Gateway, tenant: Tenant) -> None:
    attributes = [{"key": "k", "value": {"string": "a"}}, {"key": "k", "value": {"string": "b"}}]
    payload = await _upsert(gateway, tenant, attributes)
    assert _errors(payload) == [("INVALID_INPUT", ["input", "customAttributes", "1", "key"])]


async def test_all_errors_are_reported_at_once(gateway: Gateway, tenant: Tenant) -> None:
    attributes = [{"key": "$a", "value": {"string": "a"}}, {"key": "b", "value": {"number": "x"}}]
    payload = await _upsert(gateway, tenant, attributes)
    assert _errors(payload) == [
        ("RESERVED_KEY", ["input", "customAttributes", "0", "key"]),
        ("TYPE_MISMATCH", ["input", "customAttributes", "1", "value"]),
    ]


async def test_operation_errors_point_into_ops(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _upsert(gateway, tenant, [{"key": "plan", "value": {"string": "free"}}])
    before = await store.users.find_one({"appId": tenant.app_id})
    ops = [
        {"set": {"key": "fine", "value": {"string": "x"}}},
        {"set": {"key": "$bad", "value": {"string": "x"}}},
        {"set": {"key": "n", "value": {"number": "x"}}},
        {"unset": "a.b"},
    ]
    payload = await gateway.data(OPS, {"by": {"externalUserId": "u-1"}, "ops": ops}, token=tenant.app_token)
    result = payload["updateCustomAttributes"]
    assert result["user"] is None
    assert _errors(result) == [
        ("RESERVED_KEY", ["ops", "1", "set", "key"]),
        ("TYPE_MISMATCH", ["ops", "2", "set", "value"]),
        ("RESERVED_KEY", ["ops", "3", "unset"]),
    ]
    assert await store.users.find_one({"appId": tenant.app_id}) == before
