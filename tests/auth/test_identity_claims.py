"""Identity attacks, replayed: nobody claims an identifier they cannot vouch for.

Each test is an attack on the identity model (app/domain/claims.py, SECURITY.md) and
asserts the secure behaviour: refused, the victim unchanged, nothing leaked.
"""

from __future__ import annotations

from typing import Any

from app.auth import tokens
from tests.helpers import Gateway, Tenant
from tests.identity_ops import (
    PERSONALIZE,
    UPSERT,
    assert_forbidden,
    personalize,
    register,
    register_anonymous,
    session_headers,
    user_by,
)

ME = "query { me { id externalUserId type givenName emails phones unverifiedEmails unverifiedPhones } }"
UPDATE = """
mutation($by: UserRef!, $patch: UserPatch!) {
  updateUser(by: $by, patch: $patch) {
    user { id externalUserId emails phones unverifiedEmails unverifiedPhones }
    userErrors { code message field }
  }
}
"""
ADD_EMAIL_CHANNEL = """
mutation($by: UserRef!, $address: String!) {
  addChannel(by: $by, channel: {email: {address: $address, optedIn: true}}) { user { id } userErrors { code } }
}
"""
VICTIM_EMAIL = "victim@example.com"
VICTIM_PHONE = "+442071838750"


def user_token(tenant: Tenant, sub: str, **claims: Any) -> str:
    return tokens.mint(tenant.key_secret, {"scope": "user", "sub": sub, **claims}, key_id=tenant.key_id)


async def victim(gateway: Gateway, tenant: Tenant) -> dict[str, Any]:
    """A customer the business created by email and phone only (no externalUserId yet)."""
    data = await gateway.data(
        UPSERT,
        {"input": {"emails": [VICTIM_EMAIL], "phones": [VICTIM_PHONE], "givenName": "Vera"}},
        token=tenant.app_token,
    )
    assert data["upsertUser"]["userErrors"] == []
    found = await user_by(gateway, tenant, email=VICTIM_EMAIL)
    assert found is not None
    return found


async def test_user_token_cannot_take_over_a_profile_by_email_or_phone(gateway: Gateway, tenant: Tenant) -> None:
    before = await victim(gateway, tenant)
    await register(gateway, tenant, "attacker-phone")
    token = user_token(tenant, "attacker")
    for identity in (
        {"externalUserId": "attacker", "emails": [VICTIM_EMAIL]},
        {"externalUserId": "attacker", "phones": [VICTIM_PHONE]},
        {"externalUserId": "attacker", "emails": ["Victim@Example.COM"]},  # another spelling of the same address
    ):
        body = await gateway.execute(PERSONALIZE, {"prid": "attacker-phone", "identity": identity}, token=token)
        assert_forbidden(body)
    # The attributes of personalize are a patch too: they cannot carry the victim's identifiers either.
    body = await gateway.execute(
        PERSONALIZE,
        {
            "prid": "attacker-phone",
            "identity": {"externalUserId": "attacker"},
            "attributes": {"emails": [VICTIM_EMAIL]},
        },
        token=token,
    )
    assert_forbidden(body)
    assert await user_by(gateway, tenant, email=VICTIM_EMAIL) == before
    assert await user_by(gateway, tenant, externalUserId="attacker") is None
    # Personalizing with only its own sub works, and `me` shows nothing of the victim.
    own = await personalize(gateway, tenant, "attacker-phone", {"externalUserId": "attacker"}, token=token)
    assert own["userErrors"] == []
    me = (await gateway.data(ME, token=token))["me"]
    assert me["id"] != before["id"]
    assert (me["givenName"], me["emails"], me["phones"]) == (None, [], [])


async def test_user_token_cannot_add_unvouched_identifiers_by_update(gateway: Gateway, tenant: Tenant) -> None:
    before = await victim(gateway, tenant)
    await register(gateway, tenant, "dev")
    assert (await personalize(gateway, tenant, "dev", {"externalUserId": "mallory"}))["userErrors"] == []
    token = user_token(tenant, "mallory")
    for patch in ({"emails": [VICTIM_EMAIL]}, {"phones": [VICTIM_PHONE]}, {"externalUserId": "someone-else"}):
        assert_forbidden(
            await gateway.execute(UPDATE, {"by": {"externalUserId": "mallory"}, "patch": patch}, token=token)
        )
    assert await user_by(gateway, tenant, email=VICTIM_EMAIL) == before
    mallory = await user_by(gateway, tenant, externalUserId="mallory")
    assert mallory is not None and (mallory["emails"], mallory["phones"]) == ([], [])


async def test_user_token_with_signed_claims_personalizes_with_them(gateway: Gateway, tenant: Tenant) -> None:
    """The mobile flow: the app backend vouches for the email it verified by signing it into the token."""
    before = await victim(gateway, tenant)
    await register(gateway, tenant, "vera-phone")
    token = user_token(tenant, "vera-1", email="VICTIM@example.com", phone_number=VICTIM_PHONE)
    payload = await personalize(
        gateway,
        tenant,
        "vera-phone",
        {"externalUserId": "vera-1", "emails": [VICTIM_EMAIL], "phones": [VICTIM_PHONE]},
        token=token,
    )
    assert payload["userErrors"] == []
    assert payload["user"]["id"] == before["id"]
    assert payload["user"]["externalUserId"] == "vera-1"
    me = (await gateway.data(ME, token=token))["me"]
    assert (me["id"], me["emails"], me["phones"]) == (before["id"], [VICTIM_EMAIL], [VICTIM_PHONE])
    # A claim marked unverified vouches for nothing.
    unverified = user_token(tenant, "vera-1", email=VICTIM_EMAIL, email_verified=False)
    body = await gateway.execute(
        UPDATE, {"by": {"externalUserId": "vera-1"}, "patch": {"emails": [VICTIM_EMAIL]}}, token=unverified
    )
    assert_forbidden(body)


async def test_session_identifiers_are_unverified_contact_data(gateway: Gateway, tenant: Tenant) -> None:
    installation, session = await register_anonymous(gateway, tenant, "lead-phone")
    lead_id = installation["user"]["id"]
    headers = session_headers(session)
    # An externalUserId from an anonymous caller is refused outright.
    body = await gateway.execute(
        UPDATE, {"by": {"id": lead_id}, "patch": {"externalUserId": "victim-1"}}, headers=headers
    )
    assert_forbidden(body)
    # Emails and phones are kept, as unverified contact data.
    data = await gateway.data(
        UPDATE,
        {"by": {"id": lead_id}, "patch": {"emails": ["Victim@Example.com"], "phones": [VICTIM_PHONE]}},
        headers=headers,
    )
    user = data["updateUser"]["user"]
    assert (user["emails"], user["phones"]) == ([], [])
    assert (user["unverifiedEmails"], user["unverifiedPhones"]) == ([VICTIM_EMAIL], [VICTIM_PHONE])
    planted = await gateway.data(ADD_EMAIL_CHANNEL, {"by": {"id": lead_id}, "address": VICTIM_EMAIL}, headers=headers)
    assert planted["addChannel"]["userErrors"] == []
    # Contact data never matches an identity look-up...
    assert await user_by(gateway, tenant, email=VICTIM_EMAIL) is None
    assert await user_by(gateway, tenant, phone=VICTIM_PHONE) is None
    # ...nor blocks the real owner: the business's upsert creates the real customer's profile.
    data = await gateway.data(
        UPSERT, {"input": {"emails": [VICTIM_EMAIL], "givenName": "Vera"}}, token=tenant.app_token
    )
    assert data["upsertUser"]["userErrors"] == []
    customer_id = data["upsertUser"]["user"]["id"]
    assert customer_id != lead_id
    customer = await gateway.data(
        "query($by: UserRef!) { user(by: $by) { id givenName channels { type address } } }",
        {"by": {"email": VICTIM_EMAIL}},
        token=tenant.app_token,
    )
    assert customer["user"] == {"id": customer_id, "givenName": "Vera", "channels": []}
    # The attacker's session sees none of it.
    me = (await gateway.data(ME, headers=headers))["me"]
    assert (me["id"], me["givenName"], me["emails"]) == (lead_id, None, [])


async def test_lead_contact_data_on_personalize(gateway: Gateway, tenant: Tenant) -> None:
    """Kept unverified, except what the identity itself names: that value becomes an identifier."""
    installation, session = await register_anonymous(gateway, tenant, "lead-2")
    lead_id = installation["user"]["id"]
    await gateway.data(
        UPDATE,
        {"by": {"id": lead_id}, "patch": {"emails": ["kim@example.com", "typo@example.com"]}},
        headers=session_headers(session),
    )
    payload = await personalize(gateway, tenant, "lead-2", {"externalUserId": "kim", "emails": ["kim@example.com"]})
    assert payload["userErrors"] == []
    user = await gateway.data(
        'query { user(by: {externalUserId: "kim"}) { id emails unverifiedEmails } }', token=tenant.app_token
    )
    assert user["user"] == {"id": lead_id, "emails": ["kim@example.com"], "unverifiedEmails": ["typo@example.com"]}


async def test_no_identifier_oracle_for_user_and_session_tokens(gateway: Gateway, tenant: Tenant) -> None:
    """The answer for an email someone holds is the same as for a free one."""
    await victim(gateway, tenant)
    await register(gateway, tenant, "probe-dev")
    token = user_token(tenant, "prober")
    answers = []
    for email in (VICTIM_EMAIL, "nobody@example.com"):
        body = await gateway.execute(
            PERSONALIZE, {"prid": "probe-dev", "identity": {"externalUserId": "prober", "emails": [email]}}, token=token
        )
        assert_forbidden(body)
        answers.append(body)
    assert answers[0] == answers[1]
    assert await personalize(gateway, tenant, "probe-dev", {"externalUserId": "prober"}, token=token)
    updates = []
    for email in (VICTIM_EMAIL, "nobody@example.com"):
        body = await gateway.execute(
            UPDATE, {"by": {"externalUserId": "prober"}, "patch": {"emails": [email]}}, token=token
        )
        assert_forbidden(body)
        updates.append(body)
    assert updates[0] == updates[1]
    # A session gets the same (successful) answer for both: contact data is never checked against others.
    installation, session = await register_anonymous(gateway, tenant, "probe-lead")
    codes = []
    for email in (VICTIM_EMAIL, "nobody@example.com"):
        data = await gateway.data(
            UPDATE,
            {"by": {"id": installation["user"]["id"]}, "patch": {"emails": [email]}},
            headers=session_headers(session),
        )
        codes.append(data["updateUser"]["userErrors"])
    assert codes == [[], []]


async def test_session_contact_data_is_validated_like_identifiers(gateway: Gateway, tenant: Tenant) -> None:
    installation, session = await register_anonymous(gateway, tenant, "lead-3")
    lead_id = installation["user"]["id"]
    data = await gateway.data(
        UPDATE,
        {"by": {"id": lead_id}, "patch": {"emails": ["not an address"], "phones": ["12"]}},
        headers=session_headers(session),
    )
    errors = data["updateUser"]["userErrors"]
    assert [(error["code"], error["field"]) for error in errors] == [
        ("INVALID_EMAIL", ["patch", "emails", "0"]),
        ("INVALID_PHONE", ["patch", "phones", "0"]),
    ]
    me = (await gateway.data(ME, headers=session_headers(session)))["me"]
    assert (me["unverifiedEmails"], me["unverifiedPhones"]) == ([], [])
