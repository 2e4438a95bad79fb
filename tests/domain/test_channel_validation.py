"""Every channel shape rule is a userError with its code and input path; nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import limits
from tests.conftest import new_tenant
from tests.domain.test_channels import ADD, BY, P256DH, REMOVE, TENANT_ID, UNSET, UPSERT
from tests.helpers import Gateway, Tenant, error_codes

AUTH = "tBHItJI5svbpez7KI4CCXg"
TEAMS_BOT = {"tenantId": TENANT_ID, "serviceUrl": "https://smba.trafficmanager.net/emea/"}
WEB_PUSH = {"endpoint": "https://push.example.com/x", "p256dh": P256DH, "auth": AUTH}

CASES: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"email": {"address": "not-an-email"}}, "INVALID_EMAIL", ["email", "address"]),
    ({"sms": {"phone": "12345"}}, "INVALID_PHONE", ["sms", "phone"]),
    ({"whatsapp": {"phone": "+4912"}}, "INVALID_PHONE", ["whatsapp", "phone"]),
    (
        {"androidPush": {"token": "t", "provider": "APNS"}},
        "INVALID_INPUT",
        ["androidPush", "provider"],
    ),
    ({"iosPush": {"token": "t", "provider": "XIAOMI"}}, "INVALID_INPUT", ["iosPush", "provider"]),
    ({"androidPush": {"token": "  "}}, "INVALID_INPUT", ["androidPush", "token"]),
    ({"androidPush": {"token": "two words"}}, "INVALID_INPUT", ["androidPush", "token"]),
    ({"iosPush": {"token": "a" * 4097}}, "LIMIT_EXCEEDED", ["iosPush", "token"]),
    (
        {"iosPush": {"token": "t", "pushRegistrationId": "d" * 257}},
        "LIMIT_EXCEEDED",
        ["iosPush", "pushRegistrationId"],
    ),
    (
        {"webPush": {**WEB_PUSH, "endpoint": "http://push.example.com/x"}},
        "INVALID_INPUT",
        ["webPush", "endpoint"],
    ),
    ({"webPush": {**WEB_PUSH, "endpoint": "https:///x"}}, "INVALID_INPUT", ["webPush", "endpoint"]),
    (
        {"webPush": {**WEB_PUSH, "endpoint": "https://a.example/" + "x" * 2048}},
        "LIMIT_EXCEEDED",
        ["webPush", "endpoint"],
    ),
    ({"webPush": {**WEB_PUSH, "p256dh": AUTH}}, "INVALID_INPUT", ["webPush", "p256dh"]),
    ({"webPush": {**WEB_PUSH, "auth": "not base64!"}}, "INVALID_INPUT", ["webPush", "auth"]),
    ({"slack": {"accessToken": "xoxb-1"}}, "INVALID_INPUT", ["slack"]),
    (
        {"slack": {"userId": "U1", "channelId": "C1", "accessToken": "xoxb-1"}},
        "INVALID_INPUT",
        ["slack"],
    ),
    ({"slack": {"userId": "U1"}}, "INVALID_INPUT", ["slack", "accessToken"]),
    (
        {"slack": {"incomingWebhookUrl": "https://hooks.slack.com/x", "accessToken": "xoxb-1"}},
        "INVALID_INPUT",
        ["slack", "accessToken"],
    ),
    (
        {"slack": {"incomingWebhookUrl": "http://hooks.slack.com/x"}},
        "INVALID_INPUT",
        ["slack", "incomingWebhookUrl"],
    ),
    ({"slack": {"email": "nope", "accessToken": "xoxb-1"}}, "INVALID_EMAIL", ["slack", "email"]),
    (
        {"slack": {"channelId": "C 1", "accessToken": "xoxb-1"}},
        "INVALID_INPUT",
        ["slack", "channelId"],
    ),
    (
        {"slack": {"userId": "U1", "accessToken": "x" * 4097}},
        "LIMIT_EXCEEDED",
        ["slack", "accessToken"],
    ),
    ({"msTeams": {}}, "INVALID_INPUT", ["msTeams", "tenantId"]),
    ({"msTeams": {**TEAMS_BOT, "tenantId": "contoso"}}, "INVALID_INPUT", ["msTeams", "tenantId"]),
    (
        {"msTeams": {**TEAMS_BOT, "serviceUrl": "http://x.example", "userId": "29:1"}},
        "INVALID_INPUT",
        ["msTeams", "serviceUrl"],
    ),
    (
        {"msTeams": {"tenantId": TENANT_ID, "userId": "29:1"}},
        "INVALID_INPUT",
        ["msTeams", "serviceUrl"],
    ),
    ({"msTeams": TEAMS_BOT}, "INVALID_INPUT", ["msTeams"]),
    (
        {"msTeams": {**TEAMS_BOT, "userId": "29:1", "conversationId": "19:a"}},
        "INVALID_INPUT",
        ["msTeams"],
    ),
    (
        {
            "msTeams": {
                "incomingWebhookUrl": "https://x.webhook.office.com/a",
                "tenantId": TENANT_ID,
            }
        },
        "INVALID_INPUT",
        ["msTeams", "tenantId"],
    ),
]


@pytest.mark.parametrize(("channel", "code", "field"), CASES, ids=[f"{c[2][0]}-{c[1]}-{c[2][-1]}" for c in CASES])
async def test_bad_channel_is_refused_and_nothing_stored(
    gateway: Gateway, tenant: Tenant, channel: dict[str, Any], code: str, field: list[str]
) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "u-1"}}, token=tenant.app_token)
    data = await gateway.data(ADD, {"by": BY, "channel": channel}, token=tenant.app_token)
    errors = data["addChannel"]["userErrors"]
    assert [(error["code"], error["field"]) for error in errors] == [(code, ["channel", *field])]
    assert data["addChannel"]["user"] is None
    read = await gateway.data(
        'query { user(by: {externalUserId: "u-1"}) { version channels { id } } }',
        token=tenant.app_token,
    )
    assert read["user"] == {"version": 0, "channels": []}


async def test_channel_input_takes_exactly_one_member(gateway: Gateway, tenant: Tenant) -> None:
    channel = {"email": {"address": "a@example.com"}, "sms": {"phone": "+4915112345678"}}
    body = await gateway.execute(ADD, {"by": BY, "channel": channel}, token=tenant.app_token)
    assert body["errors"] and body.get("data") is None


async def test_upsert_with_a_bad_channel_creates_nothing(gateway: Gateway, tenant: Tenant) -> None:
    channels = [{"email": {"address": "a@example.com"}}, {"sms": {"phone": "0151"}}]
    data = await gateway.data(
        UPSERT, {"input": {"externalUserId": "u-1", "channels": channels}}, token=tenant.app_token
    )
    assert data["upsertUser"]["userErrors"] == [
        {
            "code": "INVALID_PHONE",
            "message": data["upsertUser"]["userErrors"][0]["message"],
            "field": ["input", "channels", "1", "sms", "phone"],
        }
    ]
    read = await gateway.data('query { user(by: {externalUserId: "u-1"}) { id } }', token=tenant.app_token)
    assert read["user"] is None


def _emails(count: int) -> list[dict[str, Any]]:
    return [{"email": {"address": f"a{index}@example.com"}} for index in range(count)]


async def test_channel_count_limit(gateway: Gateway, tenant: Tenant) -> None:
    over = await gateway.data(
        UPSERT,
        {"input": {"externalUserId": "u-1", "channels": _emails(limits.MAX_CHANNELS_PER_USER + 1)}},
        token=tenant.app_token,
    )
    assert [(e["code"], e["field"]) for e in over["upsertUser"]["userErrors"]] == [
        ("LIMIT_EXCEEDED", ["input", "channels"])
    ]
    full = await gateway.data(
        UPSERT,
        {"input": {"externalUserId": "u-1", "channels": _emails(limits.MAX_CHANNELS_PER_USER)}},
        token=tenant.app_token,
    )
    assert full["upsertUser"]["userErrors"] == []
    more = await gateway.data(
        ADD, {"by": BY, "channel": {"email": {"address": "z@example.com"}}}, token=tenant.app_token
    )
    assert [(e["code"], e["field"]) for e in more["addChannel"]["userErrors"]] == [("LIMIT_EXCEEDED", ["channel"])]
    # A known endpoint is an update, not a new channel: allowed at the limit.
    known = await gateway.data(
        ADD,
        {"by": BY, "channel": {"email": {"address": "a0@example.com", "optedIn": False}}},
        token=tenant.app_token,
    )
    assert known["addChannel"]["userErrors"] == []


async def test_document_size_limit_counts_encrypted_secrets(gateway: Gateway, tenant: Tenant) -> None:
    channels = [{"slack": {"userId": f"U{index}", "accessToken": "x" * 4000}} for index in range(50)]
    data = await gateway.data(
        UPSERT, {"input": {"externalUserId": "u-1", "channels": channels}}, token=tenant.app_token
    )
    assert [(e["code"], e["field"]) for e in data["upsertUser"]["userErrors"]] == [("LIMIT_EXCEEDED", ["input"])]


async def test_user_token_reaches_only_its_own_channels(gateway: Gateway, tenant: Tenant, admin_token: str) -> None:
    for external in ("u-1", "u-2"):
        await gateway.data(
            UPSERT,
            {"input": {"externalUserId": external, "emails": [f"{external}@example.com"]}},
            token=tenant.app_token,
        )
    own = tenant.user_token("u-1")
    added = await gateway.data(
        ADD,
        {"by": {"email": "u-1@example.com"}, "channel": {"email": {"address": "u-1@x.io"}}},
        token=own,
    )
    assert added["addChannel"]["userErrors"] == []
    me = await gateway.data("query { me { channels { address } } }", token=own)
    assert me["me"]["channels"] == [{"address": "u-1@x.io"}]
    other = {"externalUserId": "u-2"}
    some_id = added["addChannel"]["user"]["channels"][0]["id"]
    for query, variables in (
        (ADD, {"by": other, "channel": {"email": {"address": "evil@x.io"}}}),
        (REMOVE, {"by": other, "id": some_id}),
        (UNSET, {"by": other, "types": ["EMAIL"]}),
    ):
        assert error_codes(await gateway.execute(query, variables, token=own)) == ["FORBIDDEN"]
    read = await gateway.data(
        'query { user(by: {externalUserId: "u-2"}) { version channels { id } } }',
        token=tenant.app_token,
    )
    assert read["user"] == {"version": 0, "channels": []}
    # Another app's users do not exist for this app.
    stranger = await new_tenant(gateway, admin_token, "stranger")
    data = await gateway.data(ADD, {"by": other, "channel": {"email": {"address": "x@x.io"}}}, token=stranger.app_token)
    assert [(e["code"], e["field"]) for e in data["addChannel"]["userErrors"]] == [("NOT_FOUND", ["by"])]
