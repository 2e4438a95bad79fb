"""The profile model as the systems this service replaces document it, replayed one example
each: what their clients send must work here as their docs describe."""

from __future__ import annotations

from typing import Any

from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, PERSONALIZE, SAVE

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) {
    user { id externalUserId emails phones signedUpAt version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
OPS = """
mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) {
    user { customAttributes { key type value } } userErrors { code message field }
  }
}
"""
READ = """
query($by: UserRef!) { user(by: $by) {
  id externalUserId version
  channels { id type address }
  push: canReceive(category: "news", channel: ANDROID_PUSH)
} }
"""
DEFINE_CATEGORY = (
    'mutation { definePreferenceCategory(input: {name: "news", defaultOptedIn: true}) { userErrors { code } } }'
)
BY = {"externalUserId": "u-1"}


async def _upsert(gateway: Gateway, tenant: Tenant, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await gateway.data(UPSERT, {"input": input}, token=tenant.app_token))["upsertUser"]
    return payload


async def _ops(gateway: Gateway, tenant: Tenant, *ops: dict[str, Any]) -> dict[str, Any]:
    data = await gateway.data(OPS, {"by": BY, "ops": list(ops)}, token=tenant.app_token)
    payload: dict[str, Any] = data["updateCustomAttributes"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def _attributes(payload: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {item["key"]: (item["type"], item["value"]) for item in payload["user"]["customAttributes"]}


async def _read(gateway: Gateway, tenant: Tenant, by: dict[str, str]) -> dict[str, Any]:
    user: dict[str, Any] = (await gateway.data(READ, {"by": by}, token=tenant.app_token))["user"]
    return user


async def _android_device(gateway: Gateway, tenant: Tenant, prid: str, **fields: Any) -> None:
    await gateway.data(DEFINE_CATEGORY, token=tenant.app_token)
    data = await gateway.data(
        SAVE, {"input": {"pushRegistrationId": prid, "platform": "ANDROID", **fields}}, token=tenant.app_token
    )
    assert data["saveInstallation"]["userErrors"] == []


async def _personalize(gateway: Gateway, tenant: Tenant, prid: str, identity: dict[str, Any]) -> dict[str, Any]:
    data = await gateway.data(PERSONALIZE, {"prid": prid, "identity": identity}, token=tenant.app_token)
    payload: dict[str, Any] = data["personalize"]
    return payload


# Custom attributes: SuprSend's set / append / remove.


async def test_suprsend_set_of_a_list_of_strings(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, externalUserId="u-1")
    payload = await _ops(gateway, tenant, {"set": {"key": "prop2", "value": {"strings": ["one", "two", "three"]}}})
    assert _attributes(payload)["prop2"] == ("LIST_OF_STRINGS", ["one", "two", "three"])


async def test_suprsend_set_of_a_nested_object(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, externalUserId="u-1")
    address = {"city": "Zagreb", "geo": {"lat": 45.81, "lon": 15.98}}
    payload = await _ops(gateway, tenant, {"set": {"key": "address", "value": {"object": address}}})
    assert _attributes(payload)["address"] == ("OBJECT", address)


async def test_suprsend_append_and_remove_of_a_string_on_wishlist(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, externalUserId="u-1")
    appended = await _ops(gateway, tenant, {"append": {"key": "wishlist", "value": {"string": "iphone12"}}})
    assert _attributes(appended)["wishlist"] == ("LIST_OF_STRINGS", ["iphone12"])
    await _ops(gateway, tenant, {"append": {"key": "wishlist", "value": {"string": "ipad"}}})
    removed = await _ops(gateway, tenant, {"remove": {"key": "wishlist", "value": {"string": "iphone12"}}})
    assert _attributes(removed)["wishlist"] == ("LIST_OF_STRINGS", ["ipad"])


# Installations are push destinations.


async def test_an_android_device_with_a_push_token_personalized_is_reachable(gateway: Gateway, tenant: Tenant) -> None:
    await _android_device(gateway, tenant, "dev-1", pushToken="fcm-1")
    assert (await _personalize(gateway, tenant, "dev-1", BY))["userErrors"] == []
    user = await _read(gateway, tenant, BY)
    assert user["push"] is True
    assert [(c["type"], c["address"]) for c in user["channels"]] == [("ANDROID_PUSH", "fcm-1")]


async def test_a_push_channel_for_a_device_with_push_disabled_is_unreachable(gateway: Gateway, tenant: Tenant) -> None:
    await _android_device(gateway, tenant, "dev-1")
    await _personalize(gateway, tenant, "dev-1", BY)
    added = await gateway.data(
        'mutation { addChannel(by: {externalUserId: "u-1"}, channel: '
        '{androidPush: {token: "added", pushRegistrationId: "dev-1"}}) { userErrors { code } } }',
        token=tenant.app_token,
    )
    assert added["addChannel"]["userErrors"] == []
    assert (await _read(gateway, tenant, BY))["push"] is True
    await _android_device(gateway, tenant, "dev-1", isPushRegistrationEnabled=False)
    user = await _read(gateway, tenant, BY)
    assert (user["push"], user["channels"]) == (False, [])


async def test_a_remote_logout_leaves_the_old_user_without_that_push_channel(gateway: Gateway, tenant: Tenant) -> None:
    await _android_device(gateway, tenant, "dev-1", pushToken="fcm-1")
    await _personalize(gateway, tenant, "dev-1", BY)
    await _android_device(gateway, tenant, "dev-2")
    await _personalize(gateway, tenant, "dev-2", BY)
    # Logged in on dev-2, the user logs dev-1 out.
    left = await gateway.data(DEPERSONALIZE, {"prid": "dev-1"}, token=tenant.user_token("u-1"))
    assert left["depersonalize"]["userErrors"] == []
    user = await _read(gateway, tenant, BY)
    assert (user["push"], user["channels"]) == (False, [])


# Placeholders: one rule on every path.


async def test_zero_and_anonymous_are_real_ids_that_can_log_in_on_a_device(gateway: Gateway, tenant: Tenant) -> None:
    for index, external_id in enumerate(("0", "anonymous")):
        created = await _upsert(gateway, tenant, externalUserId=external_id, givenName="Backend")
        assert created["userErrors"] == []
        assert created["user"]["externalUserId"] == external_id
        prid = f"dev-{index}"
        await _android_device(gateway, tenant, prid)
        personalized = await _personalize(gateway, tenant, prid, {"externalUserId": external_id})
        assert personalized["userErrors"] == []
        assert personalized["user"]["id"] == created["user"]["id"]


async def test_any_casing_of_null_is_null_on_upsert_and_personalize(gateway: Gateway, tenant: Tenant) -> None:
    for index, placeholder in enumerate(("null", "Null", "NULL", "nUlL")):
        email = f"p{index}@example.org"
        upserted = await _upsert(gateway, tenant, externalUserId=placeholder, emails=[email])
        assert upserted["userErrors"] == []
        assert upserted["user"]["externalUserId"] is None
        prid = f"dev-{index}"
        await _android_device(gateway, tenant, prid)
        personalized = await _personalize(gateway, tenant, prid, {"externalUserId": placeholder, "emails": [email]})
        assert personalized["userErrors"] == []
        assert personalized["user"]["externalUserId"] is None
        assert personalized["user"]["id"] == upserted["user"]["id"]  # found by the email, not by "null"


# Identifier formats.


async def test_infobip_phone_without_plus_is_stored_in_e164(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _upsert(gateway, tenant, externalUserId="u-1", phones=["38516419710"])
    assert payload["userErrors"] == []
    assert payload["user"]["phones"] == ["+38516419710"]


async def test_a_date_inside_a_list_of_objects_stays_a_date_and_a_number_a_number(
    gateway: Gateway, tenant: Tenant
) -> None:
    defined = await gateway.data(
        "mutation($input: AttributeDefinitionInput!) { defineAttribute(input: $input) { userErrors { code } } }",
        {
            "input": {
                "name": "orders",
                "type": "LIST_OF_OBJECTS",
                "objectFields": [
                    {"name": "sku", "type": "STRING"},
                    {"name": "placed", "type": "DATE"},
                    {"name": "qty", "type": "NUMBER"},
                ],
            }
        },
        token=tenant.app_token,
    )
    assert defined["defineAttribute"]["userErrors"] == []
    orders = [{"sku": "A-1", "placed": "2020-11-30", "qty": 2}]
    payload = await _upsert(
        gateway, tenant, externalUserId="u-1", customAttributes=[{"key": "orders", "value": {"objects": orders}}]
    )
    assert payload["userErrors"] == []
    assert _attributes(payload)["orders"] == ("LIST_OF_OBJECTS", [{"sku": "A-1", "placed": "2020-11-30", "qty": 2}])


async def test_an_identifier_that_is_an_email_creates_the_email(gateway: Gateway, tenant: Tenant) -> None:
    payload = await _upsert(gateway, tenant, externalUserId="jane@example.com")
    assert payload["userErrors"] == []
    assert payload["user"]["emails"] == ["jane@example.com"]
    assert (await _read(gateway, tenant, {"email": "jane@example.com"}))["externalUserId"] == "jane@example.com"


async def test_signed_up_at_as_epoch_milliseconds(gateway: Gateway, tenant: Tenant) -> None:
    # Smooch's Web SDK: signedUpAt: Date.now()
    payload = await _upsert(gateway, tenant, externalUserId="u-1", signedUpAt=1_606_694_400_123)
    assert payload["userErrors"] == []
    assert payload["user"]["signedUpAt"] == "2020-11-30T00:00:00.123000+00:00"


# Channels as SuprSend's save() sends them.


async def test_several_channel_changes_in_one_call_with_one_version_bump(gateway: Gateway, tenant: Tenant) -> None:
    created = await _upsert(
        gateway,
        tenant,
        externalUserId="u-1",
        channels=[
            {"email": {"address": "old@example.com"}},
            {"sms": {"phone": "+38516419710"}},
            {"slack": {"userId": "U1", "accessToken": "xoxb-1"}},
        ],
    )
    assert created["userErrors"] == []
    version = created["user"]["version"]
    data = await gateway.data(
        """
        mutation($by: UserRef!, $add: [ChannelInput!], $remove: [ChannelMatch!], $unset: [ChannelType!]) {
          updateChannels(by: $by, add: $add, remove: $remove, unset: $unset) {
            user { version channels { type address } } userErrors { code field }
          }
        }
        """,
        {
            "by": BY,
            "add": [{"email": {"address": "new@example.com"}}, {"whatsapp": {"phone": "38516419710"}}],
            "remove": [{"value": {"type": "EMAIL", "address": "OLD@example.com"}}],
            "unset": ["SMS", "SLACK"],
        },
        token=tenant.app_token,
    )
    payload = data["updateChannels"]
    assert payload["userErrors"] == []
    assert payload["user"]["version"] == version + 1
    assert payload["user"]["channels"] == [
        {"type": "EMAIL", "address": "new@example.com"},
        {"type": "WHATSAPP", "address": "+38516419710"},
    ]
