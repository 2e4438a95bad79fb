"""updateChannels: several changes in one atomic call, removal by id or by value."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import Gateway, Tenant, error_codes

FIELDS = "user { version channels { id type address target } } userErrors { code field }"
UPDATE = f"""
mutation($by: UserRef!, $add: [ChannelInput!], $remove: [ChannelMatch!], $unset: [ChannelType!]) {{
  updateChannels(by: $by, add: $add, remove: $remove, unset: $unset) {{ {FIELDS} }}
}}
"""
UPSERT = f"mutation($input: UpsertUserInput!) {{ upsertUser(input: $input) {{ {FIELDS} }} }}"
BY = {"externalUserId": "u-1"}
WEBHOOK = "https://hooks.slack.com/services/T000/B000/secret-part"


async def _user(gateway: Gateway, tenant: Tenant, channels: list[dict[str, Any]]) -> dict[str, Any]:
    data = await gateway.data(UPSERT, {"input": {**BY, "channels": channels}}, token=tenant.app_token)
    user: dict[str, Any] = data["upsertUser"]["user"]
    return user


async def _update(gateway: Gateway, token: str, **variables: Any) -> dict[str, Any]:
    data = await gateway.data(UPDATE, {"by": BY, **variables}, token=token)
    payload: dict[str, Any] = data["updateChannels"]
    return payload


def _addresses(user: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((channel["type"], channel["address"]) for channel in user["channels"])


async def _kinds(store: Store, tenant: Tenant) -> list[str]:
    return [event["kind"] async for event in store.history.find({"appId": tenant.app_id}).sort("_id", 1)]


async def test_adds_removes_and_unsets_in_one_version_with_one_event_per_change(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    before = await _user(
        gateway,
        tenant,
        [
            {"email": {"address": "old@example.com"}},
            {"sms": {"phone": "+4915112345678"}},
            {"slack": {"userId": "U1", "accessToken": "xoxb-1"}},
            {"iosPush": {"token": "t" * 64}},
        ],
    )
    sms_id = next(channel["id"] for channel in before["channels"] if channel["type"] == "SMS")
    payload = await _update(
        gateway,
        tenant.app_token,
        add=[{"email": {"address": "New@Example.com"}}, {"whatsapp": {"phone": "+4915112345678"}}],
        remove=[{"id": sms_id}, {"value": {"type": "SLACK", "address": "U1"}}],
        unset=["IOS_PUSH", "EMAIL"],
    )
    assert payload["userErrors"] == []
    user = payload["user"]
    assert user["version"] == before["version"] + 1
    assert _addresses(user) == [("EMAIL", "new@example.com"), ("WHATSAPP", "+4915112345678")]
    assert (await _kinds(store, tenant))[1:] == ["CHANNEL_REMOVED"] * 3 + ["CHANNEL_ADDED"] * 2


async def test_removes_by_value_with_the_address_normalised_as_when_added(gateway: Gateway, tenant: Tenant) -> None:
    await _user(
        gateway,
        tenant,
        [{"email": {"address": "ada@example.com"}}, {"slack": {"incomingWebhookUrl": WEBHOOK}}],
    )
    payload = await _update(
        gateway,
        tenant.app_token,
        remove=[
            {"value": {"type": "EMAIL", "address": "ADA@example.COM"}},
            {"value": {"type": "SLACK", "incomingWebhookUrl": WEBHOOK}},
        ],
    )
    assert payload["userErrors"] == []
    assert payload["user"]["channels"] == []


async def test_one_failing_change_stores_nothing_and_names_its_input_path(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    before = await _user(gateway, tenant, [{"email": {"address": "a@example.com"}}])
    payload = await _update(
        gateway,
        tenant.app_token,
        add=[{"email": {"address": "b@example.com"}}, {"email": {"address": "not an email"}}],
        unset=["EMAIL"],
    )
    assert payload["user"] is None
    assert payload["userErrors"] == [{"code": "INVALID_EMAIL", "field": ["add", "1", "email", "address"]}]

    missing = await _update(
        gateway,
        tenant.app_token,
        add=[{"sms": {"phone": "+4915112345678"}}],
        remove=[
            {"value": {"type": "EMAIL", "address": "a@example.com"}},
            {"value": {"type": "SMS", "address": "+4915112345678"}},
        ],
    )
    assert missing["userErrors"] == [{"code": "NOT_FOUND", "field": ["remove", "1"]}]
    stored = await store.users.find_one({"appId": tenant.app_id})
    assert stored is not None
    assert stored["version"] == before["version"]
    assert [channel["address"] for channel in stored["channels"]] == ["a@example.com"]
    assert await _kinds(store, tenant) == ["CREATED"]


async def test_a_bad_match_is_refused_with_its_path(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, [{"email": {"address": "a@example.com"}}])
    payload = await _update(
        gateway,
        tenant.app_token,
        remove=[
            {"value": {"type": "SMS", "address": "call me"}},
            {"value": {"type": "EMAIL", "address": "a@example.com", "incomingWebhookUrl": WEBHOOK}},
            {"id": "bm90LWEtY2hhbm5lbA"},
        ],
    )
    assert payload["userErrors"] == [{"code": "INVALID_INPUT", "field": ["remove", "2", "id"]}]
    payload = await _update(
        gateway,
        tenant.app_token,
        remove=[
            {"value": {"type": "SMS", "address": "call me"}},
            {"value": {"type": "EMAIL", "address": "a@example.com", "incomingWebhookUrl": WEBHOOK}},
        ],
    )
    assert payload["userErrors"] == [
        {"code": "INVALID_PHONE", "field": ["remove", "0", "value", "address"]},
        {"code": "INVALID_INPUT", "field": ["remove", "1", "value"]},
    ]


async def test_too_many_changes_are_refused_before_the_look_up(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _update(gateway, tenant.app_token, remove=[{"id": "x"}] * 51)
    assert payload["userErrors"] == [{"code": "LIMIT_EXCEEDED", "field": ["remove"]}]


async def test_a_user_token_changes_only_its_own_channels(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _user(gateway, tenant, [])
    own = await _update(gateway, tenant.user_token("u-1"), add=[{"email": {"address": "me@example.com"}}])
    assert _addresses(own["user"]) == [("EMAIL", "me@example.com")]

    body = await gateway.execute(UPDATE, {"by": BY, "unset": ["EMAIL"]}, token=tenant.user_token("someone-else"))
    assert error_codes(body) == ["FORBIDDEN"]
    stored = await store.users.find_one({"appId": tenant.app_id})
    assert stored is not None and len(stored["channels"]) == 1
