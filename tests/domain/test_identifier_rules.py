"""The identifier rules as clients meet them: placeholders, phones without "+", control
characters in ids, names and tags, and epoch milliseconds for date-times."""

from __future__ import annotations

from typing import Any

import pytest

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) {
    user { externalUserId phones tags givenName signedUpAt customAttributes { key value } }
    userErrors { code field }
  }
}
"""


async def _upsert(gateway: Gateway, tenant: Tenant, record: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]
    return payload


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


@pytest.mark.parametrize("value", ["38516419710", "+38516419710", "385 1 6419 710"])
async def test_e164_digits_with_or_without_plus(gateway: Gateway, tenant: Tenant, value: str) -> None:
    payload = await _upsert(gateway, tenant, {"externalUserId": "u-1", "phones": [value]})
    assert payload["userErrors"] == []
    assert payload["user"]["phones"] == ["+38516419710"]


@pytest.mark.parametrize("value", ["016419710", "99916419710", "12"])
async def test_digits_without_a_valid_country_code_are_refused(gateway: Gateway, tenant: Tenant, value: str) -> None:
    payload = await _upsert(gateway, tenant, {"externalUserId": "u-1", "phones": [value]})
    assert _errors(payload) == [("INVALID_PHONE", ["input", "phones", "0"])]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"externalUserId": "u\u00001"}, ["input", "externalUserId"]),
        ({"externalUserId": "u-1\n"}, ["input", "externalUserId"]),
        ({"externalUserId": "u-1", "givenName": "Ada\u0000"}, ["input", "givenName"]),
        ({"externalUserId": "u-1", "tags": ["vip\n"]}, ["input", "tags", "0"]),
        ({"externalUserId": "u-1", "tags": ["v\u0000ip"]}, ["input", "tags", "0"]),
        (
            {"externalUserId": "u-1", "customAttributes": [{"key": "k", "value": {"string": "a\u0000"}}]},
            ["input", "customAttributes", "0", "value"],
        ),
    ],
)
async def test_control_characters_are_refused_and_nothing_is_stored(
    gateway: Gateway, tenant: Tenant, store: Store, record: dict[str, Any], field: list[str]
) -> None:
    payload = await _upsert(gateway, tenant, record)
    assert _errors(payload) == [("INVALID_INPUT", field)]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


@pytest.mark.parametrize("key", ["plan\n", "plan\u0000", "pl\tan"])
async def test_keys_with_a_trailing_newline_or_nul_are_refused(gateway: Gateway, tenant: Tenant, key: str) -> None:
    payload = await _upsert(
        gateway, tenant, {"externalUserId": "u-1", "customAttributes": [{"key": key, "value": {"string": "x"}}]}
    )
    assert _errors(payload) == [("INVALID_KEY", ["input", "customAttributes", "0", "key"])]


async def test_definition_names_refuse_a_trailing_newline(gateway: Gateway, tenant: Tenant) -> None:
    data = await gateway.data(
        "mutation($i: AttributeDefinitionInput!) { defineAttribute(input: $i) { userErrors { code field } } }",
        {"i": {"name": "plan\n", "type": "STRING"}},
        token=tenant.app_token,
    )
    assert data["defineAttribute"]["userErrors"] == [{"code": "INVALID_KEY", "field": ["input", "name"]}]


async def test_signed_up_at_takes_epoch_milliseconds(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _upsert(gateway, tenant, {"externalUserId": "u-1", "signedUpAt": 1_700_000_000_123})
    assert payload["userErrors"] == []
    assert payload["user"]["signedUpAt"] == "2023-11-14T22:13:20.123000+00:00"
    payload = await _upsert(
        gateway,
        tenant,
        {"externalUserId": "u-2", "customAttributes": [{"key": "seen", "value": {"datetime": 0}}]},
    )
    assert payload["user"]["customAttributes"] == [{"key": "seen", "value": "1970-01-01T00:00:00Z"}]


async def test_epoch_milliseconds_out_of_range_are_a_client_error(gateway: Gateway, tenant: Tenant) -> None:
    response = await gateway.post(
        UPSERT, {"input": {"externalUserId": "u-1", "signedUpAt": 10**20}}, token=tenant.app_token
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
