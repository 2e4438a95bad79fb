"""Every documented limit (app/domain/limits.py) is LIMIT_EXCEEDED, with its input path, and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import limits
from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id } userErrors { code message field } }
}
"""
OPS = """
mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) { user { id } userErrors { code message field } }
}
"""
ADD_TAGS = """
mutation($by: UserRef!, $tags: [String!]!) { addTags(by: $by, tags: $tags) { user { id } userErrors { code field } } }
"""


def _attributes(count: int, length: int = 1) -> list[dict[str, Any]]:
    return [{"key": f"k{index}", "value": {"string": "x" * length}} for index in range(count)]


def _phones(count: int) -> list[str]:
    return [f"+44207183{8700 + index}" for index in range(count)]


CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "custom attributes per user": (
        {"customAttributes": _attributes(limits.MAX_CUSTOM_ATTRIBUTES_PER_USER + 1)},
        ["input", "customAttributes"],
    ),
    "string length": (
        {"customAttributes": [{"key": "s", "value": {"string": "x" * (limits.MAX_STRING_LENGTH + 1)}}]},
        ["input", "customAttributes", "0", "value"],
    ),
    "string length in an object": (
        {"customAttributes": [{"key": "l", "value": {"objects": [{"s": "x" * (limits.MAX_STRING_LENGTH + 1)}]}}]},
        ["input", "customAttributes", "0", "value", "0", "s"],
    ),
    "list length": (
        {"customAttributes": [{"key": "l", "value": {"objects": [{"a": 1}] * (limits.MAX_LIST_LENGTH + 1)}}]},
        ["input", "customAttributes", "0", "value"],
    ),
    "object fields": (
        {
            "customAttributes": [
                {"key": "l", "value": {"objects": [{f"f{i}": i for i in range(limits.MAX_OBJECT_FIELDS + 1)}]}}
            ]
        },
        ["input", "customAttributes", "0", "value", "0"],
    ),
    "number digits": (
        {"customAttributes": [{"key": "n", "value": {"number": "1" * (limits.MAX_NUMBER_DIGITS + 1)}}]},
        ["input", "customAttributes", "0", "value"],
    ),
    "tags per user": ({"tags": [f"t{index}" for index in range(limits.MAX_TAGS_PER_USER + 1)]}, ["input", "tags"]),
    "tag length": ({"tags": ["ok", "t" * (limits.MAX_TAG_LENGTH + 1)]}, ["input", "tags", "1"]),
    "emails per user": (
        {"emails": [f"e{index}@example.com" for index in range(limits.MAX_EMAILS_PER_USER + 1)]},
        ["input", "emails"],
    ),
    "phones per user": ({"phones": _phones(limits.MAX_PHONES_PER_USER + 1)}, ["input", "phones"]),
    "name length": ({"givenName": "n" * (limits.MAX_NAME_LENGTH + 1)}, ["input", "givenName"]),
    "document size": (
        # Each value is within the string limit; together they exceed the document limit.
        {
            "customAttributes": _attributes(
                limits.MAX_DOCUMENT_BYTES // limits.MAX_STRING_LENGTH + 2, limits.MAX_STRING_LENGTH
            )
        },
        ["input"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_limit_exceeded_stores_nothing(gateway: Gateway, tenant: Tenant, store: Store, case: str) -> None:
    record, field = CASES[case]
    payload = await gateway.data(UPSERT, {"input": {"externalUserId": "u-1", **record}}, token=tenant.app_token)
    result = payload["upsertUser"]
    assert result["user"] is None
    assert [(error["code"], error["field"]) for error in result["userErrors"]] == [("LIMIT_EXCEEDED", field)]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_limits_are_inclusive(gateway: Gateway, tenant: Tenant) -> None:
    record = {
        "externalUserId": "x" * limits.MAX_EXTERNAL_USER_ID_LENGTH,
        "givenName": "n" * limits.MAX_NAME_LENGTH,
        "emails": [f"e{index}@example.com" for index in range(limits.MAX_EMAILS_PER_USER)],
        "phones": _phones(limits.MAX_PHONES_PER_USER),
        "tags": [*(f"t{index}" for index in range(limits.MAX_TAGS_PER_USER - 1)), "t" * limits.MAX_TAG_LENGTH],
        "customAttributes": [
            *_attributes(limits.MAX_CUSTOM_ATTRIBUTES_PER_USER - 2),
            {"key": "n", "value": {"number": "9" * limits.MAX_NUMBER_DIGITS}},
            {
                "key": "l",
                "value": {
                    "objects": [
                        {f"f{i}": i for i in range(limits.MAX_OBJECT_FIELDS)},
                        *[{"a": 1}] * (limits.MAX_LIST_LENGTH - 1),
                    ]
                },
            },
        ],
    }
    payload = (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]
    assert payload["userErrors"] == []


async def test_external_user_id_length(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    record = {"externalUserId": "x" * (limits.MAX_EXTERNAL_USER_ID_LENGTH + 1)}
    payload = (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("LIMIT_EXCEEDED", ["input", "externalUserId"])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_limits_apply_to_the_result_of_a_change(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    full = {
        "externalUserId": "u-full",
        "tags": [f"t{index}" for index in range(limits.MAX_TAGS_PER_USER)],
        "customAttributes": _attributes(limits.MAX_CUSTOM_ATTRIBUTES_PER_USER),
    }
    assert (await gateway.data(UPSERT, {"input": full}, token=tenant.app_token))["upsertUser"]["userErrors"] == []
    before = await store.users.find_one({"appId": tenant.app_id})
    by = {"externalUserId": "u-full"}
    tags = (await gateway.data(ADD_TAGS, {"by": by, "tags": ["one-more"]}, token=tenant.app_token))["addTags"]
    assert tags["userErrors"] == [{"code": "LIMIT_EXCEEDED", "field": ["tags"]}]
    ops = [{"set": {"key": "extra", "value": {"boolean": True}}}]
    result = (await gateway.data(OPS, {"by": by, "ops": ops}, token=tenant.app_token))["updateCustomAttributes"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("LIMIT_EXCEEDED", ["ops"])]
    # Replacing an existing key stays within the limit.
    ops = [{"set": {"key": "k0", "value": {"boolean": True}}}]
    result = (await gateway.data(OPS, {"by": by, "ops": ops}, token=tenant.app_token))["updateCustomAttributes"]
    assert result["userErrors"] == []
    after = await store.users.find_one({"appId": tenant.app_id})
    assert after is not None and before is not None
    assert after["tags"] == before["tags"] and after["version"] == before["version"] + 1


async def test_operations_per_call(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "u-ops"}}, token=tenant.app_token)
    ops = [{"unset": f"k{index}"} for index in range(limits.MAX_OPERATIONS_PER_CALL + 1)]
    by = {"externalUserId": "u-ops"}
    result = (await gateway.data(OPS, {"by": by, "ops": ops}, token=tenant.app_token))["updateCustomAttributes"]
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("LIMIT_EXCEEDED", ["ops"])]
