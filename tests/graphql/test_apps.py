"""createApp, createAppKey, revokeAppKey: admin scope, secrets shown once and encrypted at rest."""

from __future__ import annotations

from typing import Any

from app.auth import tokens
from app.crypto import SecretBox
from app.domain.apps import MAX_ACTIVE_KEYS_PER_APP, MAX_APP_NAME_LENGTH
from app.main import Runtime
from app.store.client import Store
from tests.helpers import Gateway, Tenant

CREATE_APP = """
mutation($name: String!) {
  createApp(name: $name) { app { id name createdAt } key { id appId secret } userErrors { code field } }
}
"""
CREATE_KEY = """
mutation($appId: ID!) { createAppKey(appId: $appId) { key { id appId secret } userErrors { code field } } }
"""
REVOKE = """
mutation($appId: ID!, $keyId: ID!) {
  revokeAppKey(appId: $appId, keyId: $keyId) { key { id secret revokedAt } userErrors { code field } }
}
"""
PROBE = 'query { user(by: {externalUserId: "nobody"}) { id } }'


async def _works(gateway: Gateway, key_id: str, secret: str) -> bool:
    response = await gateway.post(PROBE, token=tokens.mint(secret, {"scope": "app"}, key_id=key_id))
    return response.status_code == 200


async def test_create_app_returns_a_working_key(gateway: Gateway, admin_token: str) -> None:
    payload = (await gateway.data(CREATE_APP, {"name": "  Shop  "}, token=admin_token))["createApp"]
    assert payload["userErrors"] == []
    assert payload["app"]["name"] == "Shop"
    key = payload["key"]
    assert key["appId"] == payload["app"]["id"] and len(key["secret"]) >= 43
    assert await _works(gateway, key["id"], key["secret"])


async def test_key_secrets_are_encrypted_at_rest(gateway: Gateway, admin_token: str, store: Store, app: Any) -> None:
    key = (await gateway.data(CREATE_APP, {"name": "enc"}, token=admin_token))["createApp"]["key"]
    raw = await store.app_keys.find_one({"_id": key["id"]})
    assert raw is not None
    assert key["secret"] not in str(raw)
    runtime: Runtime = app.state.runtime
    assert runtime.box.decrypt(raw["secret"]) == key["secret"]
    # Only the gateway's master key opens it.
    other = SecretBox("M" * 43 + "=")
    try:
        other.decrypt(raw["secret"])
    except ValueError:
        pass
    else:
        raise AssertionError("decrypted with a foreign master key")


async def test_rotation_with_two_keys(gateway: Gateway, admin_token: str, tenant: Tenant) -> None:
    second = (await gateway.data(CREATE_KEY, {"appId": tenant.app_id}, token=admin_token))["createAppKey"]
    assert second["userErrors"] == [] and second["key"]["appId"] == tenant.app_id
    new = second["key"]
    assert await _works(gateway, tenant.key_id, tenant.key_secret)
    assert await _works(gateway, new["id"], new["secret"])
    revoked = await gateway.data(REVOKE, {"appId": tenant.app_id, "keyId": tenant.key_id}, token=admin_token)
    assert revoked["revokeAppKey"]["key"]["secret"] is None  # never shown again
    assert not await _works(gateway, tenant.key_id, tenant.key_secret)
    assert await _works(gateway, new["id"], new["secret"])


async def test_app_and_key_errors(
    gateway: Gateway, admin_token: str, tenant: Tenant, other_tenant: Tenant, store: Store
) -> None:
    apps_before = await store.apps.count_documents({})
    for name, code in (("   ", "INVALID_INPUT"), ("n" * (MAX_APP_NAME_LENGTH + 1), "LIMIT_EXCEEDED")):
        payload = (await gateway.data(CREATE_APP, {"name": name}, token=admin_token))["createApp"]
        assert payload == {"app": None, "key": None, "userErrors": [{"code": code, "field": ["name"]}]}
    assert await store.apps.count_documents({}) == apps_before

    missing = (await gateway.data(CREATE_KEY, {"appId": "app_missing"}, token=admin_token))["createAppKey"]
    assert missing == {"key": None, "userErrors": [{"code": "NOT_FOUND", "field": ["appId"]}]}
    # A key is revoked only through its own app.
    cross = {"appId": tenant.app_id, "keyId": other_tenant.key_id}
    payload = (await gateway.data(REVOKE, cross, token=admin_token))["revokeAppKey"]
    assert payload == {"key": None, "userErrors": [{"code": "NOT_FOUND", "field": ["keyId"]}]}
    assert await _works(gateway, other_tenant.key_id, other_tenant.key_secret)


async def test_active_keys_are_limited(gateway: Gateway, admin_token: str, tenant: Tenant, store: Store) -> None:
    for _ in range(MAX_ACTIVE_KEYS_PER_APP - 1):
        created = (await gateway.data(CREATE_KEY, {"appId": tenant.app_id}, token=admin_token))["createAppKey"]
        assert created["userErrors"] == []
    over = (await gateway.data(CREATE_KEY, {"appId": tenant.app_id}, token=admin_token))["createAppKey"]
    assert over == {"key": None, "userErrors": [{"code": "LIMIT_EXCEEDED", "field": ["appId"]}]}
    assert await store.app_keys.count_documents({"appId": tenant.app_id}) == MAX_ACTIVE_KEYS_PER_APP
    await gateway.data(REVOKE, {"appId": tenant.app_id, "keyId": tenant.key_id}, token=admin_token)
    again = (await gateway.data(CREATE_KEY, {"appId": tenant.app_id}, token=admin_token))["createAppKey"]
    assert again["userErrors"] == []


async def test_revoking_twice_keeps_the_first_time(gateway: Gateway, admin_token: str, tenant: Tenant) -> None:
    variables = {"appId": tenant.app_id, "keyId": tenant.key_id}
    first = (await gateway.data(REVOKE, variables, token=admin_token))["revokeAppKey"]["key"]["revokedAt"]
    second = (await gateway.data(REVOKE, variables, token=admin_token))["revokeAppKey"]["key"]["revokedAt"]
    assert first == second


APP_RETENTION = """
mutation($name: String!, $settings: AppSettingsInput) {
  createApp(name: $name, settings: $settings) {
    app { id settings { anonymousLeadRetentionDays externalUserIdAsEmail } }
    userErrors { code field }
  }
}
"""
UPDATE_RETENTION = """
mutation($appId: ID!, $settings: AppSettingsInput!) {
  updateApp(appId: $appId, settings: $settings) {
    app { settings { anonymousLeadRetentionDays externalUserIdAsEmail } }
    userErrors { code field }
  }
}
"""


async def test_an_app_may_set_its_own_lead_retention(gateway: Gateway, admin_token: str) -> None:
    settings = {"anonymousLeadRetentionDays": 30}
    created = (await gateway.data(APP_RETENTION, {"name": "kept 30", "settings": settings}, token=admin_token))[
        "createApp"
    ]
    assert created["app"]["settings"] == {"anonymousLeadRetentionDays": 30, "externalUserIdAsEmail": True}
    app_id = created["app"]["id"]

    async def update(settings: dict[str, Any]) -> dict[str, Any]:
        variables = {"appId": app_id, "settings": settings}
        payload: dict[str, Any] = (await gateway.data(UPDATE_RETENTION, variables, token=admin_token))["updateApp"]
        return payload

    # Omitted: unchanged; 0: this app keeps its leads; null: the gateway's setting again.
    assert (await update({"externalUserIdAsEmail": False}))["app"]["settings"]["anonymousLeadRetentionDays"] == 30
    assert (await update({"anonymousLeadRetentionDays": 0}))["app"]["settings"]["anonymousLeadRetentionDays"] == 0
    back = await update({"anonymousLeadRetentionDays": None})
    assert back["app"]["settings"] == {"anonymousLeadRetentionDays": None, "externalUserIdAsEmail": False}
    for days in (-1, 36_501):
        refused = await update({"anonymousLeadRetentionDays": days})
        assert refused["app"] is None
        assert refused["userErrors"] == [{"code": "INVALID_INPUT", "field": ["settings", "anonymousLeadRetentionDays"]}]
    bad_create = {"name": "never", "settings": {"anonymousLeadRetentionDays": -5}}
    refused_create = (await gateway.data(APP_RETENTION, bad_create, token=admin_token))["createApp"]
    assert refused_create["app"] is None and refused_create["userErrors"][0]["code"] == "INVALID_INPUT"
