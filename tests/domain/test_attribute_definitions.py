"""defineAttribute / attributeDefinitions, and values checked against definitions on every write path."""

from __future__ import annotations

from typing import Any

from tests.helpers import Gateway, Tenant
from tests.identity_ops import personalize, register, user_by

DEFINE = """
mutation($input: AttributeDefinitionInput!) {
  defineAttribute(input: $input) {
    definition { name type objectFields { name type } }
    userErrors { code message field }
  }
}
"""
UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { customAttributes { key value } } userErrors { code field } }
}
"""
OPS = """
mutation($ops: [AttributeOp!]!) {
  updateCustomAttributes(by: {externalUserId: "d-1"}, ops: $ops) {
    user { customAttributes { key value } } userErrors { code field }
  }
}
"""
STRICT = "mutation($s: Boolean!) { updateAttributeSettings(strict: $s) { settings { strict } userErrors { code } } }"


async def _define(gateway: Gateway, tenant: Tenant, **input: Any) -> dict[str, Any]:
    data = await gateway.data(DEFINE, {"input": input}, token=tenant.app_token)
    payload: dict[str, Any] = data["defineAttribute"]
    return payload


async def _errors(
    gateway: Gateway, tenant: Tenant, query: str, variables: dict[str, Any]
) -> list[tuple[str, list[str]]]:
    data = await gateway.data(query, variables, token=tenant.app_token)
    payload = next(iter(data.values()))
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_a_defined_type_cannot_change(gateway: Gateway, tenant: Tenant) -> None:
    created = await _define(gateway, tenant, name="ltv", type="NUMBER")
    assert created == {"definition": {"name": "ltv", "type": "NUMBER", "objectFields": []}, "userErrors": []}
    changed = await _define(gateway, tenant, name="ltv", type="STRING")
    assert [(error["code"], error["field"]) for error in changed["userErrors"]] == [
        ("TYPE_MISMATCH", ["input", "type"])
    ]
    listed = await gateway.data("query { attributeDefinitions { name type } }", token=tenant.app_token)
    assert listed["attributeDefinitions"] == [{"name": "ltv", "type": "NUMBER"}]
    fields = await _define(gateway, tenant, name="ltv", type="NUMBER", objectFields=[{"name": "a", "type": "STRING"}])
    assert fields["userErrors"][0]["code"] == "INVALID_INPUT"  # only lists of objects have fields


async def test_values_must_match_definitions_on_every_write_path(gateway: Gateway, tenant: Tenant) -> None:
    await _define(gateway, tenant, name="ltv", type="NUMBER")
    await _define(
        gateway,
        tenant,
        name="orders",
        type="LIST_OF_OBJECTS",
        objectFields=[
            {"name": "sku", "type": "STRING"},
            {"name": "price", "type": "NUMBER"},
            {"name": "on", "type": "DATE"},
        ],
    )
    wrong = {"externalUserId": "d-1", "customAttributes": [{"key": "ltv", "value": {"string": "lots"}}]}
    assert await _errors(gateway, tenant, UPSERT, {"input": wrong}) == [
        ("TYPE_MISMATCH", ["input", "customAttributes", "0", "value"])
    ]
    none = await gateway.data('query { user(by: {externalUserId: "d-1"}) { id } }', token=tenant.app_token)
    assert none["user"] is None  # nothing stored

    good = {
        "externalUserId": "d-1",
        "customAttributes": [
            {"key": "ltv", "value": {"number": "10"}},
            {"key": "orders", "value": {"objects": [{"sku": "a", "price": "9.99", "on": "2024-05-01"}]}},
        ],
    }
    assert await _errors(gateway, tenant, UPSERT, {"input": good}) == []
    update = (
        'mutation($p: UserPatch!) { updateUser(by: {externalUserId: "d-1"}, patch: $p) { userErrors { code field } } }'
    )
    bad_object = {"customAttributes": [{"key": "orders", "value": {"objects": [{"sku": "a", "colour": "red"}]}}]}
    assert await _errors(gateway, tenant, update, {"p": bad_object}) == [
        ("TYPE_MISMATCH", ["patch", "customAttributes", "0", "value", "0", "colour"])
    ]
    assert await _errors(gateway, tenant, OPS, {"ops": [{"set": {"key": "ltv", "value": {"boolean": True}}}]}) == [
        ("TYPE_MISMATCH", ["ops", "0", "set", "value"])
    ]
    assert await _errors(
        gateway,
        tenant,
        OPS,
        {"ops": [{"append": {"key": "orders", "value": {"objects": [{"sku": "b", "price": "cheap"}]}}}]},
    ) == [("TYPE_MISMATCH", ["ops", "0", "append", "value", "0", "price"])]

    ok = await gateway.data(
        OPS,
        {
            "ops": [
                {"increment": {"key": "ltv", "amount": "0.5"}},
                {"append": {"key": "orders", "value": {"objects": [{"sku": "b", "on": "2024-06-01"}]}}},
            ]
        },
        token=tenant.app_token,
    )
    values = {item["key"]: item["value"] for item in ok["updateCustomAttributes"]["user"]["customAttributes"]}
    assert values == {
        "ltv": "10.5",
        # a DATE object field reads back as a date, a NUMBER field as a JSON number
        "orders": [
            {"sku": "a", "price": 9.99, "on": "2024-05-01"},
            {"sku": "b", "on": "2024-06-01"},
        ],
    }


async def test_strict_mode_refuses_undefined_keys(gateway: Gateway, tenant: Tenant) -> None:
    await _define(gateway, tenant, name="plan", type="STRING")
    await gateway.data(
        UPSERT,
        {"input": {"externalUserId": "d-1", "customAttributes": [{"key": "legacy", "value": {"string": "x"}}]}},
        token=tenant.app_token,
    )
    strict = await gateway.data(STRICT, {"s": True}, token=tenant.app_token)
    assert strict["updateAttributeSettings"]["settings"] == {"strict": True}
    read = await gateway.data("query { attributeSettings { strict } }", token=tenant.app_token)
    assert read["attributeSettings"] == {"strict": True}

    undefined = {"externalUserId": "d-1", "customAttributes": [{"key": "colour", "value": {"string": "red"}}]}
    assert await _errors(gateway, tenant, UPSERT, {"input": undefined}) == [
        ("INVALID_KEY", ["input", "customAttributes", "0", "key"])
    ]
    assert await _errors(
        gateway,
        tenant,
        OPS,
        {
            "ops": [
                {"set": {"key": "plan", "value": {"string": "pro"}}},
                {"increment": {"key": "visits", "amount": "1"}},
            ]
        },
    ) == [("INVALID_KEY", ["ops", "1", "increment", "key"])]
    # Removing an undefined key stays possible: it is how old data is cleaned up.
    assert await _errors(gateway, tenant, OPS, {"ops": [{"unset": "legacy"}]}) == []


async def test_only_app_tokens_define_attributes(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute(DEFINE, {"input": {"name": "ltv", "type": "NUMBER"}}, token=tenant.user_token("d-1"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


BULK = """
mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { status succeeded failed failures { index code } }
}
"""
UPDATE = """
mutation($p: UserPatch!) { updateUser(by: {externalUserId: "d-1"}, patch: $p) { userErrors { code field } } }
"""


def _attribute(key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value}]


async def _bulk_failures(gateway: Gateway, tenant: Tenant, records: list[dict[str, Any]]) -> list[tuple[int, str]]:
    data = await gateway.data(BULK, {"records": records}, token=tenant.app_token)
    return [(failure["index"], failure["code"]) for failure in data["bulkUpsertUsers"]["failures"]]


async def _personalize_errors(
    gateway: Gateway, tenant: Tenant, prid: str, attributes: dict[str, Any]
) -> list[tuple[str, list[str]]]:
    await register(gateway, tenant, prid)
    payload = await personalize(gateway, tenant, prid, {"externalUserId": f"p-{prid}"}, attributes=attributes)
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_bulk_and_personalize_check_definitions(gateway: Gateway, tenant: Tenant) -> None:
    await _define(gateway, tenant, name="ltv", type="NUMBER")
    records = [
        {"externalUserId": "b-1", "customAttributes": _attribute("ltv", {"number": "1"})},
        {"externalUserId": "b-2", "customAttributes": _attribute("ltv", {"string": "lots"})},
    ]
    assert await _bulk_failures(gateway, tenant, records) == [(1, "TYPE_MISMATCH")]
    assert await user_by(gateway, tenant, externalUserId="b-2") is None

    wrong = {"customAttributes": _attribute("ltv", {"boolean": True})}
    assert await _personalize_errors(gateway, tenant, "dev-1", wrong) == [
        ("TYPE_MISMATCH", ["attributes", "customAttributes", "0", "value"])
    ]
    assert await user_by(gateway, tenant, externalUserId="p-dev-1") is None  # not personalized either
    right = {"customAttributes": _attribute("ltv", {"number": "7"})}
    assert await _personalize_errors(gateway, tenant, "dev-2", right) == []
    user = await user_by(gateway, tenant, externalUserId="p-dev-2")
    assert user is not None and user["customAttributes"] == [{"key": "ltv", "type": "NUMBER", "value": "7"}]


async def test_strict_mode_holds_on_every_write_path(gateway: Gateway, tenant: Tenant) -> None:
    await _define(gateway, tenant, name="plan", type="STRING")
    await gateway.data(UPSERT, {"input": {"externalUserId": "d-1"}}, token=tenant.app_token)
    await gateway.data(STRICT, {"s": True}, token=tenant.app_token)
    undefined = _attribute("colour", {"string": "red"})
    defined = _attribute("plan", {"string": "pro"})

    upsert = {"input": {"externalUserId": "d-2", "customAttributes": undefined}}
    assert await _errors(gateway, tenant, UPSERT, upsert) == [
        ("INVALID_KEY", ["input", "customAttributes", "0", "key"])
    ]
    assert await _errors(gateway, tenant, UPDATE, {"p": {"customAttributes": undefined}}) == [
        ("INVALID_KEY", ["patch", "customAttributes", "0", "key"])
    ]
    assert await _errors(gateway, tenant, OPS, {"ops": [{"setOnce": {"key": "colour", "value": {"string": "x"}}}]}) == [
        ("INVALID_KEY", ["ops", "0", "setOnce", "key"])
    ]
    records = [
        {"externalUserId": "b-1", "customAttributes": defined},
        {"externalUserId": "b-2", "customAttributes": undefined},
    ]
    assert await _bulk_failures(gateway, tenant, records) == [(1, "INVALID_KEY")]
    assert await _personalize_errors(gateway, tenant, "dev-1", {"customAttributes": undefined}) == [
        ("INVALID_KEY", ["attributes", "customAttributes", "0", "key"])
    ]
    # Defined keys still go through on each path.
    assert await _errors(gateway, tenant, UPDATE, {"p": {"customAttributes": defined}}) == []
    assert await _personalize_errors(gateway, tenant, "dev-2", {"customAttributes": defined}) == []
    assert await user_by(gateway, tenant, externalUserId="d-2") is None
    assert await user_by(gateway, tenant, externalUserId="b-2") is None
    assert await user_by(gateway, tenant, externalUserId="p-dev-1") is None


async def test_a_reserved_key_cannot_be_defined(gateway: Gateway, tenant: Tenant) -> None:
    for name in ("$ltv", "ss_ltv", "a.b"):
        payload = await _define(gateway, tenant, name=name, type="NUMBER")
        assert payload["definition"] is None
        assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [
            ("RESERVED_KEY", ["input", "name"])
        ]
