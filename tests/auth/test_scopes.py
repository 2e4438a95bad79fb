"""Operations outside the caller's scope are FORBIDDEN, and nothing leaks or changes."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import Gateway, Tenant, error_codes

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id externalUserId version } userErrors { code field } }
}
"""
READ = "query($by: UserRef!) { user(by: $by) { id externalUserId emails givenName } }"
UPDATE = """
mutation($by: UserRef!, $patch: UserPatch!) {
  updateUser(by: $by, patch: $patch) { user { id givenName version } userErrors { code field } }
}
"""
ADD_TAGS = """
mutation($by: UserRef!, $tags: [String!]!) {
  addTags(by: $by, tags: $tags) { user { tags } userErrors { code } }
}
"""
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code } } }"
CREATE_APP = 'mutation { createApp(name: "sneaky") { app { id } key { id secret } userErrors { code } } }'


async def _user(gateway: Gateway, tenant: Tenant, external_id: str, email: str) -> dict[str, Any]:
    record = {"externalUserId": external_id, "emails": [email], "givenName": "Ada"}
    data = await gateway.data(UPSERT, {"input": record}, token=tenant.app_token)
    user: dict[str, Any] = data["upsertUser"]["user"]
    return user


def _forbidden(body: dict[str, Any], field: str) -> None:
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["data"] is None or body["data"].get(field) is None, body


async def test_app_token_cannot_manage_apps(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    before = await store.apps.count_documents({})
    body = await gateway.execute(CREATE_APP, token=tenant.app_token)
    _forbidden(body, "createApp")
    body = await gateway.execute(
        "mutation($id: ID!) { createAppKey(appId: $id) { key { secret } userErrors { code } } }",
        {"id": tenant.app_id},
        token=tenant.app_token,
    )
    _forbidden(body, "createAppKey")
    body = await gateway.execute(
        "mutation($id: ID!, $key: ID!) { revokeAppKey(appId: $id, keyId: $key) { key { id } userErrors { code } } }",
        {"id": tenant.app_id, "key": tenant.key_id},
        token=tenant.app_token,
    )
    _forbidden(body, "revokeAppKey")
    assert await store.apps.count_documents({}) == before
    assert await store.app_keys.count_documents({"appId": tenant.app_id}) == 1
    assert await store.app_keys.count_documents({"appId": tenant.app_id, "revokedAt": None}) == 1


async def test_user_token_cannot_manage_apps(gateway: Gateway, tenant: Tenant) -> None:
    _forbidden(await gateway.execute(CREATE_APP, token=tenant.user_token("u-1")), "createApp")


async def test_admin_token_cannot_reach_users(gateway: Gateway, admin_token: str) -> None:
    _forbidden(await gateway.execute(READ, {"by": {"externalUserId": "u-1"}}, token=admin_token), "user")
    body = await gateway.execute(UPSERT, {"input": {"externalUserId": "u-1"}}, token=admin_token)
    _forbidden(body, "upsertUser")


async def test_user_token_reads_and_changes_only_its_own_user(gateway: Gateway, tenant: Tenant) -> None:
    mine = await _user(gateway, tenant, "me-1", "me@example.com")
    theirs = await _user(gateway, tenant, "them-1", "them@example.com")
    token = tenant.user_token("me-1")

    own = await gateway.data(READ, {"by": {"email": "me@example.com"}}, token=token)
    assert own["user"]["id"] == mine["id"]
    me = await gateway.data("query { me { id externalUserId } }", token=token)
    assert me["me"] == {"id": mine["id"], "externalUserId": "me-1"}
    changed = await gateway.data(UPDATE, {"by": {"externalUserId": "me-1"}, "patch": {"givenName": "Me"}}, token=token)
    assert changed["updateUser"]["user"]["givenName"] == "Me"

    for by in ({"externalUserId": "them-1"}, {"email": "them@example.com"}, {"id": theirs["id"]}):
        body = await gateway.execute(READ, {"by": by}, token=token)
        _forbidden(body, "user")
        assert "them" not in str(body) and "Ada" not in str(body)
        body = await gateway.execute(UPDATE, {"by": by, "patch": {"givenName": "Mallory"}}, token=token)
        _forbidden(body, "updateUser")
        _forbidden(await gateway.execute(ADD_TAGS, {"by": by, "tags": ["x"]}, token=token), "addTags")
    body = await gateway.execute("query($id: ID!) { node(id: $id) { id } }", {"id": theirs["id"]}, token=token)
    _forbidden(body, "node")

    read = await gateway.data(
        READ.replace("givenName", "givenName tags"), {"by": {"id": theirs["id"]}}, token=tenant.app_token
    )
    assert read["user"]["givenName"] == "Ada" and read["user"]["tags"] == []


async def test_user_token_cannot_upsert_or_delete(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "me-2", "me2@example.com")
    token = tenant.user_token("me-2")
    _forbidden(await gateway.execute(UPSERT, {"input": {"externalUserId": "me-2"}}, token=token), "upsertUser")
    _forbidden(await gateway.execute(DELETE, {"by": {"externalUserId": "me-2"}}, token=token), "deleteUser")
    assert (await gateway.data(READ, {"by": {"externalUserId": "me-2"}}, token=tenant.app_token))["user"] is not None


async def test_user_token_cannot_probe_which_users_exist(gateway: Gateway, tenant: Tenant) -> None:
    """A user token gets the same answer for another user and for nobody: no existence oracle."""
    await _user(gateway, tenant, "me-3", "me3@example.com")
    await _user(gateway, tenant, "other-3", "taken@example.com")
    token = tenant.user_token("me-3")
    existing = await gateway.execute(READ, {"by": {"email": "taken@example.com"}}, token=token)
    missing = await gateway.execute(READ, {"by": {"email": "free@example.com"}}, token=token)
    assert error_codes(existing) == error_codes(missing) == ["FORBIDDEN"]
    assert existing["data"] == missing["data"]
    update = {"patch": {"givenName": "x"}}
    existing = await gateway.execute(UPDATE, {"by": {"externalUserId": "other-3"}, **update}, token=token)
    missing = await gateway.execute(UPDATE, {"by": {"externalUserId": "nobody-3"}, **update}, token=token)
    assert error_codes(existing) == error_codes(missing) == ["FORBIDDEN"]


async def test_user_token_for_a_user_not_yet_created(gateway: Gateway, tenant: Tenant) -> None:
    token = tenant.user_token("not-yet")
    assert (await gateway.data("query { me { id } }", token=token))["me"] is None
    assert (await gateway.data(READ, {"by": {"externalUserId": "not-yet"}}, token=token))["user"] is None


async def test_anonymous_app_id_caller_reaches_no_user(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "anon-1", "anon@example.com")
    body = await gateway.execute(READ, {"by": {"externalUserId": "anon-1"}}, headers={"x-app-id": tenant.app_id})
    _forbidden(body, "user")
    body = await gateway.execute(UPSERT, {"input": {"externalUserId": "anon-2"}}, headers={"x-app-id": tenant.app_id})
    _forbidden(body, "upsertUser")
