"""Idempotency-Key: a retried mutation is answered from the first response, not applied twice."""

from __future__ import annotations

from typing import Any

from tests.helpers import Gateway, Tenant, error_codes

UPSERT = 'mutation { upsertUser(input: {externalUserId: "idem-1"}) { user { version } } }'
UPDATE = """
mutation($name: String!) {
  updateUser(by: {externalUserId: "idem-1"}, patch: {givenName: $name}, expectedVersion: 0) {
    user { givenName version } userErrors { code }
  }
}
"""
READ = '{ user(by: {externalUserId: "idem-1"}) { givenName version } }'


async def _update(gateway: Gateway, tenant: Tenant, key: str, name: str = "Ada") -> Any:
    return await gateway.post(UPDATE, {"name": name}, token=tenant.app_token, headers={"idempotency-key": key})


INCREMENT = """
mutation {
  updateCustomAttributes(by: {externalUserId: "idem-1"}, ops: [{increment: {key: "launches", amount: "1"}}]) {
    user { customAttribute(key: "launches") { value } } userErrors { code }
  }
}
"""


async def test_a_retried_increment_counts_once(gateway: Gateway, tenant: Tenant) -> None:
    # A mobile client that lost the first answer sends the same increment again.
    await gateway.data(UPSERT, token=tenant.app_token)
    headers = {"idempotency-key": "launch-7f3a"}
    first = await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    retry = await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    read = await gateway.data(
        '{ user(by: {externalUserId: "idem-1"}) { customAttribute(key: "launches") { value } } }',
        token=tenant.app_token,
    )
    assert read["user"]["customAttribute"] == {"value": "1"}
    # A new key is a new increment.
    await gateway.post(INCREMENT, token=tenant.app_token, headers={"idempotency-key": "launch-9b21"})
    read = await gateway.data(
        '{ user(by: {externalUserId: "idem-1"}) { customAttribute(key: "launches") { value } } }',
        token=tenant.app_token,
    )
    assert read["user"]["customAttribute"] == {"value": "2"}


async def test_a_retried_mutation_is_applied_once_and_replayed(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, token=tenant.app_token)
    first = await _update(gateway, tenant, "retry-1")
    assert first.json()["data"]["updateUser"] == {
        "user": {"givenName": "Ada", "version": 1},
        "userErrors": [],
    }
    retry = await _update(gateway, tenant, "retry-1")
    assert retry.status_code == 200
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert (await gateway.data(READ, token=tenant.app_token))["user"] == {
        "givenName": "Ada",
        "version": 1,
    }
    # Without the key the same request really runs again, and the version guard refuses it.
    again = await gateway.data(UPDATE, {"name": "Ada"}, token=tenant.app_token)
    assert again["updateUser"]["userErrors"] == [{"code": "VERSION_CONFLICT"}]


async def test_a_key_reused_for_another_request_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, token=tenant.app_token)
    assert (await _update(gateway, tenant, "reuse-1", "Ada")).status_code == 200
    other = await _update(gateway, tenant, "reuse-1", "Grace")
    assert other.status_code == 422
    assert error_codes(other.json()) == ["IDEMPOTENCY_KEY_REUSED"]
    assert (await gateway.data(READ, token=tenant.app_token))["user"]["givenName"] == "Ada"


async def test_a_key_from_another_caller_never_replays_their_response(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, token=tenant.app_token)
    assert (await _update(gateway, tenant, "mine-1")).status_code == 200
    other = await gateway.post(
        UPDATE,
        {"name": "Ada"},
        token=tenant.user_token("idem-1"),
        headers={"idempotency-key": "mine-1"},
    )
    assert other.status_code == 422
    assert "Ada" not in other.text


async def test_keys_belong_to_one_app(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    for each in (tenant, other_tenant):
        await gateway.data(UPSERT, token=each.app_token)
        response = await _update(gateway, each, "shared-key")
        assert "idempotent-replayed" not in response.headers
        assert response.json()["data"]["updateUser"]["user"]["version"] == 1


async def test_queries_and_malformed_keys(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, token=tenant.app_token)
    read = await gateway.post(READ, token=tenant.app_token, headers={"idempotency-key": "q-1"})
    assert "idempotent-replayed" not in read.headers
    read_again = await gateway.post(READ, token=tenant.app_token, headers={"idempotency-key": "q-1"})
    assert "idempotent-replayed" not in read_again.headers  # queries are simply run again
    bad = await _update(gateway, tenant, "has space")
    assert bad.status_code == 400
    assert error_codes(bad.json()) == ["INVALID_IDEMPOTENCY_KEY"]
