"""users(filter, first, after): pages, cursors, filters, and refusals."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) { upsertUser(input: $input) { user { id } userErrors { code } } }
"""

LIST = """
query($filter: UserFilter, $first: Int, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { externalUserId } }
    nodes { externalUserId }
    userErrors { code message field }
  }
}
"""


async def seed(gateway: Gateway, tenant: Tenant, *records: dict[str, Any]) -> list[str]:
    ids = []
    for record in records:
        data = await gateway.data(UPSERT, {"input": record}, token=tenant.app_token)
        assert data["upsertUser"]["userErrors"] == []
        ids.append(data["upsertUser"]["user"]["id"])
    return ids


async def users(gateway: Gateway, tenant: Tenant, **variables: Any) -> dict[str, Any]:
    data = await gateway.data(LIST, variables, token=tenant.app_token)
    page: dict[str, Any] = data["users"]
    return page


def names(page: dict[str, Any]) -> list[str]:
    return [node["externalUserId"] for node in page["nodes"]]


def attrs(**values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in values.items()]


async def test_pages_follow_cursors_without_repeats_even_when_users_are_added(gateway: Gateway, tenant: Tenant) -> None:
    await seed(gateway, tenant, *({"externalUserId": f"u{index}"} for index in range(5)))
    first = await users(gateway, tenant, first=2)
    assert names(first) == ["u0", "u1"]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert [edge["cursor"] for edge in first["edges"]][-1] == first["pageInfo"]["endCursor"]
    # A user created between two pages neither shifts the next page nor is lost.
    await seed(gateway, tenant, {"externalUserId": "late"})
    second = await users(gateway, tenant, first=2, after=first["pageInfo"]["endCursor"])
    assert names(second) == ["u2", "u3"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    last = await users(gateway, tenant, first=2, after=second["pageInfo"]["endCursor"])
    assert names(last) == ["u4", "late"]
    assert last["pageInfo"]["hasNextPage"] is False
    # The same cursor gives the same page again (it is not an offset).
    again = await users(gateway, tenant, first=2, after=first["pageInfo"]["endCursor"])
    assert names(again) == ["u2", "u3"]
    # first: 0 counts without listing.
    count_only = await users(gateway, tenant, first=0)
    assert count_only["nodes"] == [] and count_only["totalCount"] == 6
    assert count_only["pageInfo"]["hasNextPage"] is True
    # An explicit null takes the default page size (20).
    assert len((await users(gateway, tenant, first=None))["nodes"]) == 6


async def test_filters_on_type_tags_time_and_typed_attributes(gateway: Gateway, tenant: Tenant) -> None:
    await seed(
        gateway,
        tenant,
        {
            "externalUserId": "ada",
            "tags": ["vip", "beta"],
            "customAttributes": attrs(
                ltv={"number": "149.99"},
                plan={"string": "pro"},
                trial={"boolean": False},
                renewal={"date": "2026-03-01"},
            ),
        },
        {
            "externalUserId": "bob",
            "tags": ["vip"],
            "customAttributes": attrs(
                ltv={"number": "20"},
                plan={"string": "free"},
            ),
        },
        {
            "externalUserId": "cy",
            "tags": ["beta"],
            "customAttributes": attrs(ltv={"string": "149.99"}),
        },
    )

    async def matching(filter: dict[str, Any]) -> list[str]:
        page = await users(gateway, tenant, filter=filter)
        assert page["userErrors"] == []
        assert page["totalCount"] == len(page["nodes"])
        return names(page)

    assert await matching({"tagsAll": ["vip", "beta"]}) == ["ada"]
    assert await matching({"tagsAny": ["vip", "beta"]}) == ["ada", "bob", "cy"]
    assert await matching({"type": "CUSTOMER"}) == []
    assert await matching({"type": "LEAD"}) == ["ada", "bob", "cy"]
    # NUMBER compares as a decimal, and never with the STRING "149.99" of cy.
    assert await matching({"attributes": [{"key": "ltv", "gt": {"number": "100"}}]}) == ["ada"]
    assert await matching({"attributes": [{"key": "ltv", "lte": {"number": "149.99"}}]}) == [
        "ada",
        "bob",
    ]
    assert await matching({"attributes": [{"key": "ltv", "eq": {"string": "149.99"}}]}) == ["cy"]
    assert await matching({"attributes": [{"key": "plan", "in": [{"string": "pro"}, {"string": "x"}]}]}) == ["ada"]
    assert await matching({"attributes": [{"key": "plan", "ne": {"string": "pro"}}]}) == [
        "bob",
        "cy",
    ]
    assert await matching({"attributes": [{"key": "plan", "exists": False}]}) == ["cy"]
    assert await matching({"attributes": [{"key": "trial", "eq": {"boolean": False}}]}) == ["ada"]
    assert await matching({"attributes": [{"key": "renewal", "gte": {"date": "2026-01-01"}}]}) == ["ada"]
    # Two conditions on one key both hold (neither overwrites the other).
    both = [{"key": "ltv", "gt": {"number": "10"}}, {"key": "ltv", "lt": {"number": "100"}}]
    assert await matching({"attributes": both, "tagsAny": ["vip"]}) == ["bob"]
    everyone = await matching({"createdAfter": "2000-01-01T00:00:00Z", "createdBefore": "2999-01-01T00:00:00Z"})
    assert everyone == ["ada", "bob", "cy"]
    assert await matching({"createdAfter": "2999-01-01T00:00:00Z"}) == []


async def test_merge_tombstones_are_not_listed(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await seed(gateway, tenant, {"externalUserId": "kept"}, {"externalUserId": "gone"})
    gone = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "gone"})
    kept = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "kept"})
    assert gone is not None and kept is not None
    # The stored shape of a merged-away user: it only redirects to its target.
    await store.users.update_one({"_id": gone["_id"]}, {"$set": {"mergedInto": kept["_id"]}})
    page = await users(gateway, tenant)
    assert names(page) == ["kept"]
    assert page["totalCount"] == 1


async def test_bad_input_is_refused_with_user_errors_and_no_query_operator_gets_through(
    gateway: Gateway, tenant: Tenant
) -> None:
    await seed(gateway, tenant, {"externalUserId": "ada", "customAttributes": attrs(ltv={"number": "1"})})
    page = await users(
        gateway,
        tenant,
        first=101,
        after="not-a-cursor",
        filter={
            "attributes": [
                {"key": "$where", "eq": {"string": "1"}},
                {"key": "ltv.$gt", "exists": True},
                {"key": "ltv", "gt": {"number": "1"}, "lt": {"number": "5"}},
                {"key": "ltv", "eq": {"null": True}},
                {"key": "ltv", "eq": {"objects": [{"a": 1}]}},
                {"key": "ltv", "gt": {"number": "abc"}},
            ]
        },
    )
    assert page["nodes"] == [] and page["totalCount"] == 0
    assert [(error["code"], error["field"]) for error in page["userErrors"]] == [
        ("LIMIT_EXCEEDED", ["first"]),
        ("RESERVED_KEY", ["filter", "attributes", "0", "key"]),
        ("RESERVED_KEY", ["filter", "attributes", "1", "key"]),
        ("INVALID_INPUT", ["filter", "attributes", "2"]),
        ("INVALID_INPUT", ["filter", "attributes", "3", "eq"]),
        ("TYPE_MISMATCH", ["filter", "attributes", "4", "eq"]),
        ("TYPE_MISMATCH", ["filter", "attributes", "5", "gt"]),
        ("INVALID_INPUT", ["after"]),
    ]
    negative = await users(gateway, tenant, first=-1)
    assert [error["code"] for error in negative["userErrors"]] == ["INVALID_INPUT"]


async def test_only_app_tokens_list_users(gateway: Gateway, tenant: Tenant) -> None:
    await seed(gateway, tenant, {"externalUserId": "ada"})
    body = await gateway.execute(LIST, {}, token=tenant.user_token("ada"))
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


async def test_other_apps_users_are_never_listed(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    await seed(gateway, other_tenant, {"externalUserId": "theirs"})
    page = await users(gateway, tenant)
    assert page["nodes"] == [] and page["totalCount"] == 0


ADD_CHANNEL = """
mutation($by: UserRef!, $channel: ChannelInput!) {
  addChannel(by: $by, channel: $channel) { userErrors { code } }
}
"""


async def test_filter_on_channel_type(gateway: Gateway, tenant: Tenant) -> None:
    await seed(
        gateway,
        tenant,
        *({"externalUserId": name, "tags": [] if name == "cy" else ["t"]} for name in ("ada", "bob", "cy", "dee")),
    )
    channels = {
        "ada": {"email": {"address": "ada@example.com", "optedIn": True}},
        "bob": {"sms": {"phone": "+4915112345678", "optedIn": False}},
        "cy": {"email": {"address": "cy@example.com"}},
        "dee": {"email": {"address": "dee@example.com", "optedIn": False}},
    }
    for name, channel in channels.items():
        data = await gateway.data(
            ADD_CHANNEL,
            {"by": {"externalUserId": name}, "channel": channel},
            token=tenant.app_token,
        )
        assert data["addChannel"]["userErrors"] == []

    async def matching(filter: dict[str, Any], **paging: Any) -> dict[str, Any]:
        page = await users(gateway, tenant, filter=filter, **paging)
        assert page["userErrors"] == []
        return page

    email = await matching({"hasChannel": "EMAIL"})
    # Any channel of the type counts, opted in or not.
    assert names(email) == ["ada", "cy", "dee"] and email["totalCount"] == 3
    assert names(await matching({"hasChannel": "SMS"})) == ["bob"]
    assert names(await matching({"hasChannel": "SLACK"})) == []
    assert names(await matching({"hasChannel": "EMAIL", "tagsAll": ["t"]})) == ["ada", "dee"]
    # Pages of a channel filter follow the cursor like any other.
    first = await matching({"hasChannel": "EMAIL"}, first=2)
    assert names(first) == ["ada", "cy"] and first["pageInfo"]["hasNextPage"] is True
    rest = await matching({"hasChannel": "EMAIL"}, first=2, after=first["pageInfo"]["endCursor"])
    assert names(rest) == ["dee"] and rest["pageInfo"]["hasNextPage"] is False
    bad = await gateway.execute(LIST, {"filter": {"hasChannel": "PIGEON"}}, token=tenant.app_token)
    assert bad["errors"] and bad.get("data") is None
