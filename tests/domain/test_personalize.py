"""personalize: the rules of design.md ("Identity operations")."""

from __future__ import annotations

import pytest

from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import (
    UPSERT,
    assert_forbidden,
    personalize,
    register,
    register_anonymous,
    session_headers,
    user_by,
)


async def test_new_identity_is_written_onto_the_installations_user(gateway: Gateway, tenant: Tenant) -> None:
    installation = await register(gateway, tenant, "dev-1")
    payload = await personalize(
        gateway,
        tenant,
        "dev-1",
        {"externalUserId": "cust-1", "emails": ["Ada@Example.com"]},
        attributes={"givenName": "Ada"},
    )
    assert payload["userErrors"] == []
    user = payload["user"]
    assert user["id"] == installation["user"]["id"]
    assert (user["externalUserId"], user["type"], user["emails"]) == (
        "cust-1",
        "CUSTOMER",
        ["ada@example.com"],
    )
    assert payload["installation"]["user"]["id"] == user["id"]


async def test_keep_as_lead(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    payload = await personalize(gateway, tenant, "dev-1", {"emails": ["lead@example.com"]}, keepAsLead=True)
    assert payload["user"]["type"] == "LEAD"
    assert payload["user"]["emails"] == ["lead@example.com"]


async def test_known_person_receives_the_installation_and_the_leads_data(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    known = await gateway.data(
        UPSERT,
        {
            "input": {
                "externalUserId": "cust-1",
                "tags": ["vip"],
                "customAttributes": [{"key": "plan", "value": {"string": "gold"}}],
            }
        },
        token=tenant.app_token,
    )
    known_id = known["upsertUser"]["user"]["id"]
    installation, token = await register_anonymous(gateway, tenant, "phone-1")
    lead_id = installation["user"]["id"]
    # While anonymous, the device collects data on its lead profile.
    await gateway.data(
        """mutation($by: UserRef!) {
             addTags(by: $by, tags: ["browsed", "vip"]) { userErrors { code } }
             updateCustomAttributes(by: $by, ops: [{set: {key: "plan", value: {string: "free"}}},
                 {set: {key: "cart", value: {number: "12.50"}}}]) {
               userErrors { code } } }""",
        {"by": {"id": lead_id}},
        headers=session_headers(token),
    )
    payload = await personalize(
        gateway,
        tenant,
        "phone-1",
        {"externalUserId": "cust-1"},
        attributes={"customAttributes": [{"key": "seen", "value": {"boolean": True}}]},
    )
    assert payload["userErrors"] == []
    user = payload["user"]
    assert user["id"] == known_id
    assert user["type"] == "CUSTOMER"
    assert user["tags"] == ["vip", "browsed"]
    # What the known profile had wins; what it lacked comes from the lead; `attributes` are applied.
    assert user["customAttributes"] == [
        {"key": "cart", "type": "NUMBER", "value": "12.50"},
        {"key": "plan", "type": "STRING", "value": "gold"},
        {"key": "seen", "type": "BOOLEAN", "value": True},
    ]
    assert [i["pushRegistrationId"] for i in user["installations"]] == ["phone-1"]
    # The lead is now a tombstone: its old id resolves to the known user, its token is gone.
    assert (await user_by(gateway, tenant, id=lead_id) or {})["id"] == known_id
    assert await store.sessions.count_documents({"appId": tenant.app_id}) == 0
    stale = await gateway.post("query { me { id } }", headers=session_headers(token))
    assert stale.status_code == 401


async def test_attributes_replace_existing_values(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(
        UPSERT,
        {
            "input": {
                "externalUserId": "cust-1",
                "givenName": "Old",
                "customAttributes": [{"key": "plan", "value": {"string": "free"}}],
            }
        },
        token=tenant.app_token,
    )
    await register(gateway, tenant, "dev-1")
    payload = await personalize(
        gateway,
        tenant,
        "dev-1",
        {"externalUserId": "cust-1"},
        attributes={
            "givenName": "New",
            "customAttributes": [{"key": "plan", "value": {"string": "gold"}}],
        },
    )
    assert payload["user"]["customAttributes"] == [{"key": "plan", "type": "STRING", "value": "gold"}]
    user = await gateway.data('query { user(by: {externalUserId: "cust-1"}) { givenName } }', token=tenant.app_token)
    assert user["user"]["givenName"] == "New"


async def test_personalizing_again_with_the_same_identity_is_harmless(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    first = await personalize(gateway, tenant, "dev-1", {"externalUserId": "cust-1"})
    again = await personalize(gateway, tenant, "dev-1", {"externalUserId": "cust-1", "phones": ["+4915112345678"]})
    assert again["userErrors"] == []
    assert again["user"]["id"] == first["user"]["id"]
    assert again["user"]["phones"] == ["+4915112345678"]


async def test_another_identity_is_refused_unless_force_depersonalize(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    await register(gateway, tenant, "dev-2")
    first = (await personalize(gateway, tenant, "dev-1", {"externalUserId": "alice"}))["user"]
    await personalize(gateway, tenant, "dev-2", {"externalUserId": "alice"})
    refused = await personalize(gateway, tenant, "dev-1", {"externalUserId": "bob"})
    assert refused["user"] is None
    assert refused["userErrors"] == [
        {
            "code": "ALREADY_PERSONALIZED",
            "message": refused["userErrors"][0]["message"],
            "field": ["pushRegistrationId"],
        }
    ]
    assert await user_by(gateway, tenant, externalUserId="bob") is None
    forced = await personalize(gateway, tenant, "dev-1", {"externalUserId": "bob"}, force=True)
    assert forced["userErrors"] == []
    assert forced["user"]["externalUserId"] == "bob"
    assert [i["pushRegistrationId"] for i in forced["user"]["installations"]] == ["dev-1"]
    # Alice keeps her other device and her profile.
    alice = await user_by(gateway, tenant, externalUserId="alice")
    assert alice is not None and alice["id"] == first["id"]
    assert [i["pushRegistrationId"] for i in alice["installations"]] == ["dev-2"]


async def test_identity_matching_two_users_is_conflicting(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(
        UPSERT,
        {"input": {"externalUserId": "alice", "emails": ["alice@example.com"]}},
        token=tenant.app_token,
    )
    await gateway.data(UPSERT, {"input": {"emails": ["bob@example.com"]}}, token=tenant.app_token)
    installation = await register(gateway, tenant, "dev-1")
    both = await personalize(gateway, tenant, "dev-1", {"emails": ["alice@example.com", "bob@example.com"]})
    assert [e["code"] for e in both["userErrors"]] == ["CONFLICTING_IDENTITIES"]
    # An email of alice's with another externalUserId is a different person too.
    other = await personalize(gateway, tenant, "dev-1", {"externalUserId": "carol", "emails": ["alice@example.com"]})
    assert [e["code"] for e in other["userErrors"]] == ["CONFLICTING_IDENTITIES"]
    lead = await user_by(gateway, tenant, id=installation["user"]["id"])
    assert lead is not None and (lead["type"], lead["externalUserId"], lead["emails"]) == (
        "LEAD",
        None,
        [],
    )


@pytest.mark.parametrize("placeholder", ["null", "NULL", "Null", "nUlL", " null "])
async def test_null_text_in_any_casing_is_no_identity(gateway: Gateway, tenant: Tenant, placeholder: str) -> None:
    await register(gateway, tenant, "dev-1")
    payload = await personalize(gateway, tenant, "dev-1", {"externalUserId": placeholder})
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["identity"])]


@pytest.mark.parametrize("value", ["", "  ", "a\u0000b", "a\n"])
async def test_empty_or_control_character_ids_are_refused(gateway: Gateway, tenant: Tenant, value: str) -> None:
    await register(gateway, tenant, "dev-1")
    payload = await personalize(gateway, tenant, "dev-1", {"externalUserId": value})
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_INPUT", ["identity", "externalUserId"])
    ]


@pytest.mark.parametrize("external_user_id", ["0", "anonymous", "undefined", "-1"])
async def test_an_id_upsert_stores_is_one_personalize_accepts(
    gateway: Gateway, tenant: Tenant, external_user_id: str
) -> None:
    """A backend-created user "0" can log in on a device: one rule on every path."""
    upsert = await gateway.data(
        "mutation($i: UpsertUserInput!) { upsertUser(input: $i) { user { id } userErrors { code } } }",
        {"i": {"externalUserId": external_user_id}},
        token=tenant.app_token,
    )
    assert upsert["upsertUser"]["userErrors"] == []
    await register(gateway, tenant, "dev-1")
    payload = await personalize(gateway, tenant, "dev-1", {"externalUserId": external_user_id})
    assert payload["userErrors"] == []
    assert payload["user"]["id"] == upsert["upsertUser"]["user"]["id"]


async def test_empty_identity_and_unknown_installation(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    empty = await personalize(gateway, tenant, "dev-1", {"emails": []})
    assert [(e["code"], e["field"]) for e in empty["userErrors"]] == [("INVALID_INPUT", ["identity"])]
    unknown = await personalize(gateway, tenant, "dev-404", {"externalUserId": "x"})
    assert [(e["code"], e["field"]) for e in unknown["userErrors"]] == [("NOT_FOUND", ["pushRegistrationId"])]


async def test_personalize_by_scope(gateway: Gateway, tenant: Tenant) -> None:
    _, token = await register_anonymous(gateway, tenant, "phone-1")
    # A session cannot claim an identity: it could take over someone's profile.
    assert_forbidden(
        await gateway.execute(
            'mutation { personalize(pushRegistrationId: "phone-1", identity: {externalUserId: "x"}) { user { id } } }',
            headers=session_headers(token),
        )
    )
    # A user token personalizes only with its own externalUserId.
    assert_forbidden(
        await gateway.execute(
            'mutation { personalize(pushRegistrationId: "phone-1", identity: {externalUserId: "x"}) { user { id } } }',
            token=tenant.user_token("alice"),
        )
    )
    own = await personalize(gateway, tenant, "phone-1", {"externalUserId": "alice"}, token=tenant.user_token("alice"))
    assert own["userErrors"] == [] and own["user"]["externalUserId"] == "alice"
    # ...and never an installation that another identified user holds.
    await register(gateway, tenant, "dev-bob")
    await personalize(gateway, tenant, "dev-bob", {"externalUserId": "bob"})
    assert_forbidden(
        await gateway.execute(
            'mutation { personalize(pushRegistrationId: "dev-bob", identity: {externalUserId: '
            '"alice"},'
            " forceDepersonalize: true) { user { id } } }",
            token=tenant.user_token("alice"),
        )
    )


async def test_the_leads_push_channel_follows_the_installation(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "cust-1"}}, token=tenant.app_token)
    installation, token = await register_anonymous(gateway, tenant, "phone-1")
    added = await gateway.data(
        """mutation($by: UserRef!) {
             addChannel(by: $by, channel: {iosPush: {token: "apns-1", pushRegistrationId: "phone-1"}}) {
               userErrors { code } } }""",
        {"by": {"id": installation["user"]["id"]}},
        headers=session_headers(token),
    )
    assert added["addChannel"]["userErrors"] == []
    await personalize(gateway, tenant, "phone-1", {"externalUserId": "cust-1"})
    data = await gateway.data(
        """query { user(by: {externalUserId: "cust-1"}) {
             channels { type address installation { pushRegistrationId } } } }""",
        token=tenant.app_token,
    )
    assert data["user"]["channels"] == [
        {"type": "IOS_PUSH", "address": "apns-1", "installation": {"pushRegistrationId": "phone-1"}}
    ]
    # After a logout the device is no longer theirs, and neither is its push channel.
    await gateway.data(
        'mutation { depersonalize(pushRegistrationId: "phone-1") { userErrors { code } } }',
        token=tenant.app_token,
    )
    data = await gateway.data(
        'query { user(by: {externalUserId: "cust-1"}) { channels { installation { id } } } }',
        token=tenant.app_token,
    )
    assert data["user"]["channels"] == []
