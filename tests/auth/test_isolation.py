"""Another app's users simply do not exist for the caller, by every kind of UserRef."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id externalUserId givenName tags version } userErrors { code field } }
}
"""
READ = "query($by: UserRef!) { user(by: $by) { id givenName } }"
UPDATE = """
mutation($by: UserRef!) {
  updateUser(by: $by, patch: {givenName: "Mallory"}) { user { id } userErrors { code field } }
}
"""
ADD_TAGS = 'mutation($by: UserRef!) { addTags(by: $by, tags: ["x"]) { user { id } userErrors { code field } } }'
REMOVE_TAGS = 'mutation($by: UserRef!) { removeTags(by: $by, tags: ["vip"]) { user { id } userErrors { code field } } }'
SET_ATTRIBUTE = """
mutation($by: UserRef!) {
  updateCustomAttributes(by: $by, ops: [{set: {key: "plan", value: {string: "free"}}}]) {
    user { id } userErrors { code field }
  }
}
"""
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code field } } }"


async def test_another_apps_users_do_not_exist(
    gateway: Gateway, tenant: Tenant, other_tenant: Tenant, store: Store
) -> None:
    data = await gateway.data(
        UPSERT,
        {
            "input": {
                "externalUserId": "shared-1",
                "emails": ["a@example.com"],
                "phones": ["+4915112345678"],
                "givenName": "Ada",
                "tags": ["vip"],
            }
        },
        token=tenant.app_token,
    )
    user: dict[str, Any] = data["upsertUser"]["user"]
    document = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "shared-1"})
    assert document is not None
    # An installation of app A, so the pushRegistrationId reference is covered too.
    await store.installations.insert_one(
        {"_id": str(ObjectId()), "appId": tenant.app_id, "userId": document["_id"], "pushRegistrationId": "device-1"}
    )
    refs: list[dict[str, str]] = [
        {"id": user["id"]},
        {"externalUserId": "shared-1"},
        {"email": "a@example.com"},
        {"phone": "+4915112345678"},
        {"pushRegistrationId": "device-1"},
    ]
    for by in refs:
        # App A sees its user by every reference ...
        assert (await gateway.data(READ, {"by": by}, token=tenant.app_token))["user"]["id"] == user["id"]
        # ... app B by none, and cannot change or delete it.
        token = other_tenant.app_token
        assert (await gateway.data(READ, {"by": by}, token=token))["user"] is None, by
        for mutation, name in (
            (UPDATE, "updateUser"),
            (ADD_TAGS, "addTags"),
            (REMOVE_TAGS, "removeTags"),
            (SET_ATTRIBUTE, "updateCustomAttributes"),
            (DELETE, "deleteUser"),
        ):
            payload = (await gateway.data(mutation, {"by": by}, token=token))[name]
            assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"], (name, by)
            assert payload["userErrors"][0]["field"] == ["by"]
        node = await gateway.data("query($id: ID!) { node(id: $id) { id } }", {"id": user["id"]}, token=token)
        assert node["node"] is None

    after = await store.users.find_one({"_id": document["_id"]})
    assert after == document
    # A user token of app B for the same externalUserId is not app A's user either.
    me = await gateway.data("query { me { id } }", token=other_tenant.user_token("shared-1"))
    assert me["me"] is None


async def test_identifiers_are_unique_per_app_only(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    record = {"externalUserId": "same-1", "emails": ["same@example.com"], "phones": ["+4915112345679"]}
    first = await gateway.data(UPSERT, {"input": {**record, "givenName": "A"}}, token=tenant.app_token)
    second = await gateway.data(UPSERT, {"input": {**record, "givenName": "B"}}, token=other_tenant.app_token)
    assert second["upsertUser"]["userErrors"] == []
    assert first["upsertUser"]["user"]["id"] != second["upsertUser"]["user"]["id"]
    read = await gateway.data(READ, {"by": {"externalUserId": "same-1"}}, token=tenant.app_token)
    assert read["user"]["givenName"] == "A"
