"""Unexpected failures are masked for clients and logged with the request id."""

from __future__ import annotations

import logging

import pytest

from app.auth import tokens
from app.graphql.extensions import MASKED_MESSAGE
from app.store import registry
from app.store.client import Store
from tests.helpers import Gateway, Tenant, error_codes


def _logged_with(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "request_id", None) == request_id]


async def _register(store: Store, app_id: str, external_user_id: str, user_id: str) -> None:
    """The registry entry the gateway writes with a user (these users are written past it)."""
    entry = {"_id": registry.key(app_id, "externalUserId", external_user_id), "appId": app_id, "userId": user_id}
    await registry.collection(store).insert_one(entry)


async def test_unexpected_error_in_a_resolver_is_masked(
    gateway: Gateway, tenant: Tenant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A document the code cannot read (an unknown profile type), written past the API.
    await store.users.insert_one(
        {
            "_id": "corrupt-1",
            "appId": tenant.app_id,
            "externalUserId": "corrupt",
            "type": "SECRET_INTERNAL_TYPE",
            "version": 0,
        }
    )
    await _register(store, tenant.app_id, "corrupt", "corrupt-1")
    request_id = "req-masking-0001"
    body = await gateway.execute(
        'query { user(by: {externalUserId: "corrupt"}) { externalUserId type } }',
        token=tenant.app_token,
        headers={"x-request-id": request_id},
    )
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    error = body["errors"][0]
    assert error["message"] == MASKED_MESSAGE
    assert error["extensions"]["requestId"] == request_id
    assert error["path"] == ["user", "type"]
    assert "SECRET_INTERNAL_TYPE" not in str(body) and "Traceback" not in str(body)
    records = _logged_with(caplog, request_id)
    assert records and records[0].levelno == logging.ERROR and records[0].exc_info is not None


async def test_a_request_gets_an_id_when_it_brings_none(
    gateway: Gateway, tenant: Tenant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.users.insert_one({"_id": "corrupt-2", "appId": tenant.app_id, "externalUserId": "c2", "version": 0})
    await _register(store, tenant.app_id, "c2", "corrupt-2")
    for header in ({}, {"x-request-id": "bad id with spaces"}):
        body = await gateway.execute(
            'query { user(by: {externalUserId: "c2"}) { createdAt } }', token=tenant.app_token, headers=header
        )
        request_id = body["errors"][0]["extensions"]["requestId"]
        assert request_id and request_id != header.get("x-request-id")
        assert _logged_with(caplog, request_id)


async def test_unexpected_error_while_authenticating_is_masked(
    gateway: Gateway, tenant: Tenant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A key whose secret does not decrypt (e.g. stored under another master key).
    await store.app_keys.insert_one(
        {"_id": "key_corrupt", "appId": tenant.app_id, "secret": "not-a-fernet-token", "revokedAt": None}
    )
    token = tokens.mint(tenant.key_secret, {"scope": "app"}, key_id="key_corrupt")
    response = await gateway.post("query { me { id } }", token=token, headers={"x-request-id": "req-auth-0001"})
    assert response.status_code == 500
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-auth-0001"}
    assert "fernet" not in response.text.lower() and "decrypt" not in response.text.lower()
    assert _logged_with(caplog, "req-auth-0001")


async def test_client_mistakes_are_not_masked(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute("query { user { id } }", token=tenant.app_token)
    assert body["errors"] and "by" in body["errors"][0]["message"]
    body = await gateway.execute("query { nope }", token=tenant.app_token)
    assert "nope" in body["errors"][0]["message"]
    two = 'query { user(by: {externalUserId: "a", email: "b@example.com"}) { id } }'
    body = await gateway.execute(two, token=tenant.app_token)
    assert body["errors"] and body["errors"][0]["message"] != MASKED_MESSAGE


async def test_bad_variable_values_are_the_clients_mistake(
    gateway: Gateway, tenant: Tenant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    upsert = "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { user { id } } }"
    for record, expected in (
        ({"birthday": "2024-13-45"}, "month must be in 1..12"),
        ({"signedUpAt": "yesterday"}, "DateTime"),
        ({"customAttributes": [{"key": "d", "value": {"date": "nope"}}]}, "Date"),
    ):
        body = await gateway.execute(upsert, {"input": {"externalUserId": "v", **record}}, token=tenant.app_token)
        assert body["data"] is None
        message = body["errors"][0]["message"]
        assert message != MASKED_MESSAGE and "$input" in message and expected in message, message
    # Nothing for the operators: the gateway logs no unexpected error.
    ours = [record for record in caplog.records if record.name.startswith("app")]
    assert not [record for record in ours if record.levelno >= logging.ERROR]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0
