"""Channels: the eight shapes, idempotent adds, removal, write-only secrets, limits and scopes."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from app.config import Settings
from app.crypto import SecretBox
from app.store.client import Store
from tests.helpers import Gateway, Tenant

CHANNEL_FIELDS = "channels { id type address provider pushRegistrationId target optedIn hasSecret }"
UPSERT = f"""
mutation($input: UpsertUserInput!) {{
  upsertUser(input: $input) {{
    user {{ id version {CHANNEL_FIELDS} }} userErrors {{ code message field }}
  }}
}}
"""
ADD = f"""
mutation($by: UserRef!, $channel: ChannelInput!) {{
  addChannel(by: $by, channel: $channel) {{
    user {{ version {CHANNEL_FIELDS} }} userErrors {{ code message field }}
  }}
}}
"""
REMOVE = f"""
mutation($by: UserRef!, $id: ID!) {{
  removeChannel(by: $by, channelId: $id) {{
    user {{ version {CHANNEL_FIELDS} }} userErrors {{ code field }}
  }}
}}
"""
UNSET = f"""
mutation($by: UserRef!, $types: [ChannelType!]!) {{
  unsetChannels(by: $by, types: $types) {{
    user {{ version {CHANNEL_FIELDS} }} userErrors {{ code field }}
  }}
}}
"""
BY = {"externalUserId": "u-1"}
SLACK_TOKEN = "xoxb-1234-abcdef-secret-token"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/very-secret-part"
TEAMS_WEBHOOK = "https://contoso.webhook.office.com/webhookb2/secret-teams-part"
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

ALL_TYPES: list[dict[str, Any]] = [
    {"email": {"address": "Ada@Example.com"}},
    {"sms": {"phone": "+4915112345678", "optedIn": False}},
    {"whatsapp": {"phone": "+4915112345678"}},
    {
        "androidPush": {
            "token": "fcm-token-1",
            "provider": "huawei",
            "pushRegistrationId": "device-1",
        }
    },
    {"iosPush": {"token": "a" * 64}},
    {
        "webPush": {
            "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
            "p256dh": P256DH,
            "auth": AUTH,
        }
    },
    {"slack": {"userId": "U012AB3CD", "accessToken": SLACK_TOKEN}},
    {"slack": {"incomingWebhookUrl": WEBHOOK}},
    {
        "msTeams": {
            "tenantId": TENANT_ID,
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "conversationId": "19:abc@thread.tacv2",
        }
    },
    {"msTeams": {"incomingWebhookUrl": TEAMS_WEBHOOK}},
]


async def upsert(gateway: Gateway, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    data = await gateway.data(UPSERT, {"input": {"externalUserId": "u-1", **fields}}, token=tenant.app_token)
    payload: dict[str, Any] = data["upsertUser"]
    return payload


async def add(gateway: Gateway, token: str, channel: dict[str, Any], by: dict[str, Any] = BY) -> dict[str, Any]:
    data = await gateway.data(ADD, {"by": by, "channel": channel}, token=token)
    payload: dict[str, Any] = data["addChannel"]
    return payload


async def test_upsert_stores_all_eight_types_with_their_shapes(gateway: Gateway, tenant: Tenant) -> None:
    payload = await upsert(gateway, tenant, channels=ALL_TYPES)
    assert payload["userErrors"] == []
    shown = [{k: v for k, v in channel.items() if k != "id"} for channel in payload["user"]["channels"]]
    base = {
        "provider": None,
        "pushRegistrationId": None,
        "target": None,
        "optedIn": True,
        "hasSecret": False,
    }
    assert shown == [
        {**base, "type": "EMAIL", "address": "ada@example.com"},
        {**base, "type": "SMS", "address": "+4915112345678", "optedIn": False},
        {**base, "type": "WHATSAPP", "address": "+4915112345678"},
        {
            **base,
            "type": "ANDROID_PUSH",
            "address": "fcm-token-1",
            "provider": "HUAWEI",
            "pushRegistrationId": "device-1",
        },
        {**base, "type": "IOS_PUSH", "address": "a" * 64, "provider": "APNS"},
        {
            **base,
            "type": "WEB_PUSH",
            "address": "https://fcm.googleapis.com/fcm/send/abc",
            "hasSecret": True,
        },
        {**base, "type": "SLACK", "address": "U012AB3CD", "target": "userId", "hasSecret": True},
        {**base, "type": "SLACK", "address": None, "target": "incomingWebhook", "hasSecret": True},
        {**base, "type": "MS_TEAMS", "address": "19:abc@thread.tacv2", "target": "conversationId"},
        {
            **base,
            "type": "MS_TEAMS",
            "address": None,
            "target": "incomingWebhook",
            "hasSecret": True,
        },
    ]
    read = await gateway.data(
        'query { user(by: {externalUserId: "u-1"}) { channels(type: SLACK) { type target } } }',
        token=tenant.app_token,
    )
    assert read["user"]["channels"] == [
        {"type": "SLACK", "target": "userId"},
        {"type": "SLACK", "target": "incomingWebhook"},
    ]


async def test_secrets_are_encrypted_at_rest_and_never_returned(
    gateway: Gateway, tenant: Tenant, store: Store, settings: Settings
) -> None:
    await upsert(gateway, tenant, channels=ALL_TYPES)
    raw = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "u-1"})
    assert raw is not None
    for secret in (SLACK_TOKEN, WEBHOOK, TEAMS_WEBHOOK, AUTH, "very-secret-part"):
        assert secret not in repr(raw)
    assert settings.master_key is not None
    box = SecretBox(settings.master_key.get_secret_value())
    slack = next(channel for channel in raw["channels"] if channel.get("target") == "userId")
    assert SLACK_TOKEN in box.decrypt(slack["secret"])  # readable by the gateway only
    with pytest.raises(ValueError):
        SecretBox(Fernet.generate_key().decode()).decrypt(slack["secret"])
    body = await gateway.execute(
        'query { user(by: {externalUserId: "u-1"}) { channels { accessToken } } }',
        token=tenant.app_token,
    )
    assert body["errors"]  # no field can return a secret


async def test_adding_the_same_endpoint_twice_updates_it(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await upsert(gateway, tenant)
    first = await add(gateway, tenant.app_token, {"email": {"address": "ada@example.com"}})
    again = await add(gateway, tenant.app_token, {"email": {"address": "ADA@example.com", "optedIn": False}})
    assert again["userErrors"] == []
    assert len(again["user"]["channels"]) == 1
    assert again["user"]["channels"][0]["id"] == first["user"]["channels"][0]["id"]
    assert again["user"]["channels"][0]["optedIn"] is False
    # Unchanged input, optedIn omitted: nothing is written, the choice is kept.
    same = await add(gateway, tenant.app_token, {"email": {"address": "ada@example.com"}})
    assert same["user"]["version"] == again["user"]["version"]
    assert same["user"]["channels"][0]["optedIn"] is False
    # A secret sent again unchanged is not a change either (ciphertexts differ per call).
    slack = {"slack": {"channelId": "C024BE91L", "accessToken": SLACK_TOKEN}}
    with_slack = await add(gateway, tenant.app_token, slack)
    assert (await add(gateway, tenant.app_token, slack))["user"]["version"] == with_slack["user"]["version"]
    events = await store.history.find({"appId": tenant.app_id}).to_list()
    assert [event["kind"] for event in events].count("CHANNEL_ADDED") == 3


async def test_a_rotated_push_token_replaces_the_installations_channel(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant)
    old = await add(gateway, tenant.app_token, {"androidPush": {"token": "old", "pushRegistrationId": "d-1"}})
    new = await add(gateway, tenant.app_token, {"androidPush": {"token": "new", "pushRegistrationId": "d-1"}})
    assert [c["address"] for c in new["user"]["channels"]] == ["new"]
    assert new["user"]["channels"][0]["id"] == old["user"]["channels"][0]["id"]


async def test_remove_and_unset_channels(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    created = await upsert(gateway, tenant, channels=ALL_TYPES[:4])
    channels = created["user"]["channels"]
    removed = await gateway.data(REMOVE, {"by": BY, "id": channels[0]["id"]}, token=tenant.app_token)
    assert [c["type"] for c in removed["removeChannel"]["user"]["channels"]] == [
        "SMS",
        "WHATSAPP",
        "ANDROID_PUSH",
    ]
    again = await gateway.data(REMOVE, {"by": BY, "id": channels[0]["id"]}, token=tenant.app_token)
    assert again["removeChannel"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["channelId"]}]
    bad = await gateway.data(REMOVE, {"by": BY, "id": "not-an-id"}, token=tenant.app_token)
    assert bad["removeChannel"]["userErrors"] == [{"code": "INVALID_INPUT", "field": ["channelId"]}]
    unset = await gateway.data(UNSET, {"by": BY, "types": ["SMS", "WHATSAPP", "SLACK"]}, token=tenant.app_token)
    assert [c["type"] for c in unset["unsetChannels"]["user"]["channels"]] == ["ANDROID_PUSH"]
    kinds = [event["kind"] async for event in store.history.find({"appId": tenant.app_id}).sort("_id", 1)]
    assert kinds == ["CREATED", "CHANNEL_REMOVED", "CHANNEL_REMOVED"]
    raw = await store.history.find_one({"appId": tenant.app_id, "kind": "CHANNEL_REMOVED"}, sort=[("_id", -1)])
    assert raw is not None and raw["details"]["types"] == ["SLACK", "SMS", "WHATSAPP"]
    assert len(raw["details"]["channelIds"]) == 2


async def test_update_user_adds_channels_and_keeps_the_others(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, channels=[{"email": {"address": "a@example.com"}}])
    query = f"""
    mutation($patch: UserPatch!) {{
      updateUser(by: {{externalUserId: "u-1"}}, patch: $patch) {{
        user {{ {CHANNEL_FIELDS} }} userErrors {{ code field }}
      }}
    }}
    """
    patch = {"channels": [{"iosPush": {"token": "b" * 64}}, {"email": {"address": "A@example.com"}}]}
    data = await gateway.data(query, {"patch": patch}, token=tenant.app_token)
    assert [c["type"] for c in data["updateUser"]["user"]["channels"]] == ["EMAIL", "IOS_PUSH"]
    bad = await gateway.data(query, {"patch": {"channels": [{"sms": {"phone": "x"}}]}}, token=tenant.app_token)
    assert bad["updateUser"]["userErrors"] == [
        {"code": "INVALID_PHONE", "field": ["patch", "channels", "0", "sms", "phone"]}
    ]
