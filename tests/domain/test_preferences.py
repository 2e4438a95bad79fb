"""Preferences: app categories, a user's choices, and canReceive's whole chain."""

from __future__ import annotations

from typing import Any

from tests.helpers import Gateway, Tenant, error_codes

DEFINE = """
mutation($input: PreferenceCategoryInput!) {
  definePreferenceCategory(input: $input) {
    category { name description defaultOptedIn mandatory } userErrors { code field }
  }
}
"""
REMOVE_CATEGORY = """
mutation($name: String!) {
  removePreferenceCategory(name: $name) { removedName userErrors { code field } }
}
"""
UPDATE = """
mutation($by: UserRef!, $input: PreferencesInput!) {
  updatePreferences(by: $by, input: $input) {
    user {
      version preferredLanguage
      preferences {
        language timezone optedOutChannelTypes
        categories { category mandatory optedIn chosen channels { type optedIn } }
      }
    }
    userErrors { code message field }
  }
}
"""
UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id } userErrors { code field } }
}
"""
CAN_RECEIVE = """
query {
  user(by: {externalUserId: "u-1"}) {
    newsEmail: canReceive(category: "news", channel: EMAIL)
    newsSms: canReceive(category: "news", channel: SMS)
    billingEmail: canReceive(category: "billing", channel: EMAIL)
    securityEmail: canReceive(category: "security", channel: EMAIL)
    securitySms: canReceive(category: "security", channel: SMS)
    securityPush: canReceive(category: "security", channel: IOS_PUSH)
    unknownEmail: canReceive(category: "newz", channel: EMAIL)
  }
}
"""
BY = {"externalUserId": "u-1"}
CATEGORIES = [
    {"name": "news", "description": "Product news"},
    {"name": "billing", "defaultOptedIn": False},
    {"name": "security", "mandatory": True},
]


async def setup(gateway: Gateway, tenant: Tenant) -> None:
    for category in CATEGORIES:
        data = await gateway.data(DEFINE, {"input": category}, token=tenant.app_token)
        assert data["definePreferenceCategory"]["userErrors"] == []
    channels = [
        {"email": {"address": "ada@example.com"}},
        {"sms": {"phone": "+4915112345678", "optedIn": False}},
    ]
    for external in ("u-1", "u-2"):
        data = await gateway.data(
            UPSERT,
            {"input": {"externalUserId": external, "channels": channels}},
            token=tenant.app_token,
        )
        assert data["upsertUser"]["userErrors"] == []


async def update(gateway: Gateway, token: str, changes: dict[str, Any], by: dict[str, Any] = BY) -> dict[str, Any]:
    data = await gateway.data(UPDATE, {"by": by, "input": changes}, token=token)
    payload: dict[str, Any] = data["updatePreferences"]
    return payload


async def can_receive(gateway: Gateway, tenant: Tenant) -> dict[str, bool]:
    data = await gateway.data(CAN_RECEIVE, token=tenant.app_token)
    answers: dict[str, bool] = data["user"]
    return answers


async def test_categories_are_defined_listed_redefined_and_removed(gateway: Gateway, tenant: Tenant) -> None:
    await setup(gateway, tenant)
    changed = await gateway.data(DEFINE, {"input": {"name": "news", "defaultOptedIn": False}}, token=tenant.app_token)
    assert changed["definePreferenceCategory"]["category"] == {
        "name": "news",
        "description": None,
        "defaultOptedIn": False,
        "mandatory": False,
    }
    listed = await gateway.data("query { preferenceCategories { name mandatory } }", token=tenant.user_token("u-1"))
    assert listed["preferenceCategories"] == [
        {"name": "billing", "mandatory": False},
        {"name": "news", "mandatory": False},
        {"name": "security", "mandatory": True},
    ]
    removed = await gateway.data(REMOVE_CATEGORY, {"name": "billing"}, token=tenant.app_token)
    assert removed["removePreferenceCategory"] == {"removedName": "billing", "userErrors": []}
    again = await gateway.data(REMOVE_CATEGORY, {"name": "billing"}, token=tenant.app_token)
    assert again["removePreferenceCategory"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["name"]}]


async def test_category_validation_and_scope(gateway: Gateway, tenant: Tenant) -> None:
    bad_name = await gateway.data(DEFINE, {"input": {"name": "1 news"}}, token=tenant.app_token)
    assert bad_name["definePreferenceCategory"]["userErrors"] == [{"code": "INVALID_INPUT", "field": ["input", "name"]}]
    long = await gateway.data(DEFINE, {"input": {"name": "news", "description": "x" * 501}}, token=tenant.app_token)
    assert long["definePreferenceCategory"]["userErrors"] == [
        {"code": "LIMIT_EXCEEDED", "field": ["input", "description"]}
    ]
    user_token = tenant.user_token("u-1")
    assert error_codes(await gateway.execute(DEFINE, {"input": {"name": "news"}}, token=user_token)) == ["FORBIDDEN"]
    assert error_codes(await gateway.execute(REMOVE_CATEGORY, {"name": "news"}, token=user_token)) == ["FORBIDDEN"]
    listed = await gateway.data("query { preferenceCategories { name } }", token=tenant.app_token)
    assert listed["preferenceCategories"] == []


async def test_update_and_read_preferences(gateway: Gateway, tenant: Tenant) -> None:
    await setup(gateway, tenant)
    payload = await update(
        gateway,
        tenant.user_token("u-1"),
        {
            "language": "de-CH",
            "timezone": "Europe/Zurich",
            "optedOutChannelTypes": ["SMS", "WHATSAPP", "SMS"],
            "categories": [
                {
                    "category": "news",
                    "optedIn": False,
                    "channels": [{"type": "EMAIL", "optedIn": True}],
                },
                {"category": "security", "channels": [{"type": "EMAIL", "optedIn": True}]},
            ],
        },
    )
    assert payload["userErrors"] == []
    user = payload["user"]
    assert user["preferredLanguage"] == "de-CH"  # one language, whichever way it is set
    assert user["preferences"] == {
        "language": "de-CH",
        "timezone": "Europe/Zurich",
        "optedOutChannelTypes": ["SMS", "WHATSAPP"],
        "categories": [
            {
                "category": "billing",
                "mandatory": False,
                "optedIn": False,
                "chosen": False,
                "channels": [],
            },
            {
                "category": "news",
                "mandatory": False,
                "optedIn": False,
                "chosen": True,
                "channels": [{"type": "EMAIL", "optedIn": True}],
            },
            {
                "category": "security",
                "mandatory": True,
                "optedIn": True,
                "chosen": False,
                "channels": [{"type": "EMAIL", "optedIn": True}],
            },
        ],
    }
    # Omitted fields stay; null resets to the default.
    reset = await update(
        gateway,
        tenant.app_token,
        {"timezone": None, "categories": [{"category": "news", "optedIn": None, "channels": None}]},
    )
    prefs = reset["user"]["preferences"]
    assert prefs["language"] == "de-CH" and prefs["timezone"] is None
    assert prefs["categories"][1] == {
        "category": "news",
        "mandatory": False,
        "optedIn": True,
        "chosen": False,
        "channels": [],
    }
    same = await update(gateway, tenant.app_token, {"language": "de-CH"})
    assert same["user"]["version"] == reset["user"]["version"]  # no change, no write


async def test_every_preference_error_at_once_and_nothing_stored(gateway: Gateway, tenant: Tenant) -> None:
    await setup(gateway, tenant)
    await gateway.data(DEFINE, {"input": {"name": "legal", "mandatory": True}}, token=tenant.app_token)
    payload = await update(
        gateway,
        tenant.app_token,
        {
            "language": "not a language",
            "timezone": "Mars/Olympus",
            "categories": [
                {"category": "newz", "optedIn": False},
                {"category": "security", "optedIn": False},
                {"category": "security"},
                {
                    "category": "news",
                    "channels": [
                        {"type": "SMS", "optedIn": True},
                        {"type": "SMS", "optedIn": False},
                    ],
                },
                {"category": "legal", "channels": [{"type": "SMS", "optedIn": False}]},
            ],
        },
    )
    assert payload["user"] is None
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [
        ("INVALID_INPUT", ["input", "language"]),
        ("INVALID_INPUT", ["input", "timezone"]),
        ("NOT_FOUND", ["input", "categories", "0", "category"]),
        ("INVALID_INPUT", ["input", "categories", "1", "optedIn"]),
        ("INVALID_INPUT", ["input", "categories", "2"]),
        ("INVALID_INPUT", ["input", "categories", "3", "channels"]),
        ("INVALID_INPUT", ["input", "categories", "4", "channels"]),
    ]
    read = await gateway.data(
        'query { user(by: {externalUserId: "u-1"}) { version preferredLanguage } }',
        token=tenant.app_token,
    )
    assert read["user"] == {"version": 0, "preferredLanguage": None}


async def test_can_receive_resolves_the_whole_chain(gateway: Gateway, tenant: Tenant) -> None:
    await setup(gateway, tenant)
    assert await can_receive(gateway, tenant) == {
        "newsEmail": True,  # default opted in, email channel opted in
        "newsSms": False,  # the SMS channel itself is opted out
        "billingEmail": False,  # default opted out
        "securityEmail": True,
        "securitySms": False,  # mandatory never overrides a channel's own opt-out
        "securityPush": False,  # no such channel
        "unknownEmail": False,  # undefined category
    }
    await update(
        gateway,
        tenant.app_token,
        {
            "optedOutChannelTypes": ["EMAIL"],
            "categories": [{"category": "billing", "optedIn": True}],
        },
    )
    answers = await can_receive(gateway, tenant)
    assert (answers["newsEmail"], answers["billingEmail"], answers["securityEmail"]) == (
        False,
        False,
        True,
    )
    await update(
        gateway,
        tenant.app_token,
        {
            "optedOutChannelTypes": None,
            "categories": [
                {
                    "category": "news",
                    "optedIn": False,
                    "channels": [{"type": "EMAIL", "optedIn": True}],
                }
            ],
        },
    )
    answers = await can_receive(gateway, tenant)
    assert (answers["newsEmail"], answers["billingEmail"]) == (True, True)
    await update(gateway, tenant.app_token, {"categories": [{"category": "news", "channels": None}]})
    assert (await can_receive(gateway, tenant))["newsEmail"] is False


async def test_user_token_changes_only_its_own_preferences(gateway: Gateway, tenant: Tenant) -> None:
    await setup(gateway, tenant)
    own = tenant.user_token("u-1")
    assert (await update(gateway, own, {"language": "fr"}))["userErrors"] == []
    body = await gateway.execute(UPDATE, {"by": {"externalUserId": "u-2"}, "input": {"language": "fr"}}, token=own)
    assert error_codes(body) == ["FORBIDDEN"]
    read = await gateway.data(
        'query { user(by: {externalUserId: "u-2"}) { version preferredLanguage } }',
        token=tenant.app_token,
    )
    assert read["user"] == {"version": 0, "preferredLanguage": None}
    me = await gateway.data('query { me { canReceive(category: "news", channel: EMAIL) } }', token=own)
    assert me["me"]["canReceive"] is True
