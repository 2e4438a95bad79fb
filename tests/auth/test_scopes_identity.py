"""Session tokens, user tokens and depersonalize (remote logout), scope by scope."""

from __future__ import annotations

from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import (
    DEPERSONALIZE,
    assert_forbidden,
    personalize,
    register,
    register_anonymous,
    session_headers,
    user_by,
)

OWN_DATA = """
query($by: UserRef!) {
  user(by: $by) { id tags customAttributes { key value } installations { pushRegistrationId } }
}
"""
ADD_TAGS = 'mutation($by: UserRef!) { addTags(by: $by, tags: ["t"]) { user { tags } userErrors { code } } }'


async def test_session_reaches_only_its_anonymous_user(gateway: Gateway, tenant: Tenant) -> None:
    installation, token = await register_anonymous(gateway, tenant, "phone-1")
    other = await register(gateway, tenant, "phone-2")
    own_id = installation["user"]["id"]
    headers = session_headers(token)
    me = await gateway.data("query { me { id type identified } }", headers=headers)
    assert me["me"] == {"id": own_id, "type": "LEAD", "identified": False}
    for ref in ({"id": own_id}, {"pushRegistrationId": "phone-1"}):
        own = await gateway.data(OWN_DATA, {"by": ref}, headers=headers)
        assert own["user"]["installations"] == [{"pushRegistrationId": "phone-1"}]
    tagged = await gateway.data(ADD_TAGS, {"by": {"id": own_id}}, headers=headers)
    assert tagged["addTags"]["user"]["tags"] == ["t"]
    # Another user's data: FORBIDDEN and nothing returned or changed.
    for ref in ({"id": other["user"]["id"]}, {"pushRegistrationId": "phone-2"}):
        assert_forbidden(await gateway.execute(OWN_DATA, {"by": ref}, headers=headers))
        assert_forbidden(await gateway.execute(ADD_TAGS, {"by": ref}, headers=headers))
    untouched = await user_by(gateway, tenant, id=other["user"]["id"])
    assert untouched is not None and untouched["tags"] == []
    # An app's-only operation.
    assert_forbidden(
        await gateway.execute('mutation { upsertUser(input: {externalUserId: "x"}) { user { id } } }', headers=headers)
    )


async def test_session_token_stops_working_once_identified(gateway: Gateway, tenant: Tenant) -> None:
    _, token = await register_anonymous(gateway, tenant, "phone-1")
    assert (await gateway.post("query { me { id } }", headers=session_headers(token))).status_code == 200
    await personalize(gateway, tenant, "phone-1", {"externalUserId": "alice"})
    response = await gateway.post("query { me { id } }", headers=session_headers(token))
    assert response.status_code == 401
    assert "alice" not in response.text


async def test_user_token_reaches_only_its_own_user(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-a")
    await register(gateway, tenant, "dev-b")
    alice = (await personalize(gateway, tenant, "dev-a", {"externalUserId": "alice"}))["user"]
    bob = (await personalize(gateway, tenant, "dev-b", {"externalUserId": "bob"}))["user"]
    token = tenant.user_token("alice")
    me = await gateway.data("query { me { id installations { pushRegistrationId } } }", token=token)
    assert me["me"] == {"id": alice["id"], "installations": [{"pushRegistrationId": "dev-a"}]}
    own = await gateway.data(OWN_DATA, {"by": {"externalUserId": "alice"}}, token=token)
    assert own["user"]["id"] == alice["id"]
    installation = await gateway.data(
        'query { installation(pushRegistrationId: "dev-a") { user { id } } }', token=token
    )
    assert installation["installation"]["user"]["id"] == alice["id"]
    for ref in ({"externalUserId": "bob"}, {"id": bob["id"]}, {"pushRegistrationId": "dev-b"}):
        assert_forbidden(await gateway.execute(OWN_DATA, {"by": ref}, token=token))
        assert_forbidden(await gateway.execute(ADD_TAGS, {"by": ref}, token=token))
    assert_forbidden(
        await gateway.execute(
            'query { installation(pushRegistrationId: "dev-b") { pushRegistrationId } }',
            token=token,
        )
    )
    assert_forbidden(await gateway.execute(DEPERSONALIZE, {"prid": "dev-b"}, token=token))
    assert_forbidden(
        await gateway.execute('mutation { deleteUser(by: {externalUserId: "bob"}) { deletedUserId } }', token=token)
    )
    still_bob = await user_by(gateway, tenant, pushRegistrationId="dev-b")
    assert still_bob is not None and still_bob["id"] == bob["id"]


async def test_admin_and_anonymous_callers_reach_no_profiles(
    gateway: Gateway, tenant: Tenant, admin_token: str
) -> None:
    await register(gateway, tenant, "dev-a")
    for kwargs in ({"token": admin_token}, {"headers": {"x-app-id": tenant.app_id}}):
        assert_forbidden(
            await gateway.execute(
                'query { installation(pushRegistrationId: "dev-a") { pushRegistrationId } }',
                **kwargs,
            )
        )
        assert_forbidden(await gateway.execute(DEPERSONALIZE, {"prid": "dev-a"}, **kwargs))


async def test_remote_logout(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await register(gateway, tenant, "phone")
    await register(gateway, tenant, "tablet")
    alice = (await personalize(gateway, tenant, "phone", {"externalUserId": "alice"}))["user"]
    await personalize(gateway, tenant, "tablet", {"externalUserId": "alice"})
    # From her phone (user token), alice logs the tablet out.
    data = await gateway.data(DEPERSONALIZE, {"prid": "tablet"}, token=tenant.user_token("alice"))
    payload = data["depersonalize"]
    assert payload["userErrors"] == []
    fresh = payload["installation"]["user"]
    assert fresh["id"] != alice["id"]
    assert (fresh["type"], fresh["externalUserId"]) == ("LEAD", None)
    assert payload["sessionToken"]
    # The fresh anonymous user is reachable with the new session token, and holds nothing of alice.
    me = await gateway.data(
        "query { me { id emails tags installations { pushRegistrationId } } }",
        headers=session_headers(payload["sessionToken"]),
    )
    assert me["me"] == {
        "id": fresh["id"],
        "emails": [],
        "tags": [],
        "installations": [{"pushRegistrationId": "tablet"}],
    }
    kept = await user_by(gateway, tenant, externalUserId="alice")
    assert kept is not None and kept["installations"] == [{"pushRegistrationId": "phone", "isPrimaryDevice": False}]
    # The tablet's session cannot reach alice any more.
    assert_forbidden(
        await gateway.execute(
            OWN_DATA,
            {"by": {"externalUserId": "alice"}},
            headers=session_headers(payload["sessionToken"]),
        )
    )


async def test_depersonalize_unknown_installation(gateway: Gateway, tenant: Tenant) -> None:
    data = await gateway.data(DEPERSONALIZE, {"prid": "nope"}, token=tenant.app_token)
    assert [(e["code"], e["field"]) for e in data["depersonalize"]["userErrors"]] == [
        ("NOT_FOUND", ["pushRegistrationId"])
    ]
