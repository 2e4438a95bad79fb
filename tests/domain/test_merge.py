"""mergeUsers: union of identifiers, tags and installations; strategies; tombstones."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import (
    MERGE,
    UPSERT,
    assert_forbidden,
    register,
    register_anonymous,
    session_headers,
    user_by,
)

SET_PLAN = """
mutation($by: UserRef!, $value: String!) {
  updateCustomAttributes(by: $by, ops: [{set: {key: "plan", value: {string: $value}}}]) {
    userErrors { code }
  }
}
"""


async def upsert(gateway: Gateway, tenant: Tenant, **fields: Any) -> str:
    data = await gateway.data(UPSERT, {"input": fields}, token=tenant.app_token)
    assert data["upsertUser"]["userErrors"] == []
    user_id: str = data["upsertUser"]["user"]["id"]
    return user_id


async def merge(
    gateway: Gateway,
    tenant: Tenant,
    target: dict[str, str],
    source: dict[str, str],
    strategy: str = "PREFER_TARGET",
) -> dict[str, Any]:
    data = await gateway.data(MERGE, {"target": target, "source": source, "strategy": strategy}, token=tenant.app_token)
    payload: dict[str, Any] = data["mergeUsers"]
    return payload


async def test_merge_unites_identifiers_tags_and_installations(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    target = await upsert(
        gateway,
        tenant,
        externalUserId="cust-1",
        emails=["a@example.com"],
        tags=["vip"],
        givenName="Ada",
    )
    source_installation = await register(gateway, tenant, "dev-1")
    await register(gateway, tenant, "dev-2")
    source = source_installation["user"]["id"]
    await gateway.data(
        UPSERT,
        {
            "input": {
                "emails": ["b@example.com"],
                "tags": ["web", "vip"],
                "givenName": "Bea",
                "phones": ["+4915112345678"],
            }
        },
        token=tenant.app_token,
    )
    # Give the source an email and both installations' data, then merge twice into the target.
    await merge(gateway, tenant, {"id": source}, {"email": "b@example.com"})
    await merge(gateway, tenant, {"id": source}, {"pushRegistrationId": "dev-2"})
    payload = await merge(gateway, tenant, {"id": target}, {"id": source})
    assert payload["userErrors"] == []
    user = payload["user"]
    assert user["id"] == target
    assert (user["externalUserId"], user["givenName"], user["type"]) == ("cust-1", "Ada", "LEAD")
    assert user["emails"] == ["a@example.com", "b@example.com"]
    assert user["phones"] == ["+4915112345678"]
    assert user["tags"] == ["vip", "web"]
    assert sorted(i["pushRegistrationId"] for i in user["installations"]) == ["dev-1", "dev-2"]
    # Every old id and identifier of the source resolves to the target.
    for ref in ({"id": source}, {"email": "b@example.com"}, {"pushRegistrationId": "dev-2"}):
        found = await user_by(gateway, tenant, **ref)
        assert found is not None and found["id"] == target
    # One live user holds the identifiers; the others are tombstones without personal data.
    tombstones = await store.users.find({"appId": tenant.app_id, "mergedInto": {"$exists": True}}).to_list()
    assert len(tombstones) == 3
    assert all(set(t) == {"_id", "appId", "mergedInto", "mergedAt", "version"} for t in tombstones)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("PREFER_TARGET", "t-old"), ("PREFER_SOURCE", "s-new"), ("PREFER_NEWEST", "s-new")],
)
async def test_attribute_conflicts_follow_the_strategy(
    gateway: Gateway, tenant: Tenant, strategy: str, expected: str
) -> None:
    await upsert(gateway, tenant, externalUserId="t")
    await upsert(gateway, tenant, emails=["s@example.com"])
    await gateway.data(SET_PLAN, {"by": {"externalUserId": "t"}, "value": "t-old"}, token=tenant.app_token)
    await gateway.data(SET_PLAN, {"by": {"email": "s@example.com"}, "value": "s-new"}, token=tenant.app_token)
    payload = await merge(gateway, tenant, {"externalUserId": "t"}, {"email": "s@example.com"}, strategy)
    assert payload["user"]["customAttributes"] == [{"key": "plan", "type": "STRING", "value": expected}]


async def test_prefer_newest_compares_each_attributes_own_update_time(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, externalUserId="t")
    await upsert(gateway, tenant, emails=["s@example.com"])
    await gateway.data(SET_PLAN, {"by": {"email": "s@example.com"}, "value": "s-old"}, token=tenant.app_token)
    await gateway.data(SET_PLAN, {"by": {"externalUserId": "t"}, "value": "t-new"}, token=tenant.app_token)
    # The source changed last overall, but not its "plan".
    await gateway.data(
        'mutation { addTags(by: {email: "s@example.com"}, tags: ["x"]) { userErrors { code } } }',
        token=tenant.app_token,
    )
    payload = await merge(gateway, tenant, {"externalUserId": "t"}, {"email": "s@example.com"}, "PREFER_NEWEST")
    assert payload["user"]["customAttributes"] == [{"key": "plan", "type": "STRING", "value": "t-new"}]


async def test_refused_merges_change_nothing(gateway: Gateway, tenant: Tenant) -> None:
    alice = await upsert(gateway, tenant, externalUserId="alice", emails=["a@example.com"])
    await upsert(gateway, tenant, externalUserId="bob")
    different = await merge(gateway, tenant, {"externalUserId": "alice"}, {"externalUserId": "bob"})
    assert different["user"] is None
    assert [(e["code"], e["field"]) for e in different["userErrors"]] == [("CONFLICTING_IDENTITIES", ["source"])]
    itself = await merge(gateway, tenant, {"id": alice}, {"email": "a@example.com"})
    assert [e["code"] for e in itself["userErrors"]] == ["INVALID_INPUT"]
    missing = await merge(gateway, tenant, {"id": alice}, {"externalUserId": "nobody"})
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [("NOT_FOUND", ["source"])]
    bob = await user_by(gateway, tenant, externalUserId="bob")
    assert bob is not None and bob["id"] != alice


async def test_only_app_tokens_merge(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, externalUserId="alice")
    _, token = await register_anonymous(gateway, tenant, "phone-1")
    query = (
        'mutation { mergeUsers(target: {externalUserId: "alice"}, source: '
        '{pushRegistrationId: "phone-1"}) { user { id } } }'
    )
    assert_forbidden(await gateway.execute(query, token=tenant.user_token("alice")))
    assert_forbidden(await gateway.execute(query, headers=session_headers(token)))
    assert await user_by(gateway, tenant, pushRegistrationId="phone-1") is not None


async def test_concurrent_merges_of_one_source_leave_one_owner(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    targets = [await upsert(gateway, tenant, externalUserId=f"t{i}") for i in range(3)]
    await register(gateway, tenant, "dev-1")
    results = await asyncio.gather(
        *(merge(gateway, tenant, {"id": target}, {"pushRegistrationId": "dev-1"}) for target in targets)
    )
    # The source is absorbed once; later merges find it already belongs to a user with another id.
    winners = [r["user"]["id"] for r in results if r["user"] is not None]
    assert len(winners) == 1
    assert all([e["code"] for e in r["userErrors"]] == ["CONFLICTING_IDENTITIES"] for r in results if r["user"] is None)
    installation = await store.installations.find_one({"appId": tenant.app_id, "pushRegistrationId": "dev-1"})
    assert installation is not None
    owner = await user_by(gateway, tenant, pushRegistrationId="dev-1")
    assert owner is not None and owner["id"] == winners[0]


ADD_CHANNEL = """
mutation($by: UserRef!, $channel: ChannelInput!) {
  addChannel(by: $by, channel: $channel) { userErrors { code message field } }
}
"""


async def test_channels_the_target_lacks_are_carried_over(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, externalUserId="t")
    await upsert(gateway, tenant, emails=["s@example.com"])
    target, source = {"externalUserId": "t"}, {"email": "s@example.com"}
    for by, channel in (
        (target, {"email": {"address": "s@example.com"}}),
        (source, {"email": {"address": "s@example.com", "optedIn": False}}),
        (source, {"sms": {"phone": "+4915112345678"}}),
    ):
        data = await gateway.data(ADD_CHANNEL, {"by": by, "channel": channel}, token=tenant.app_token)
        assert data["addChannel"]["userErrors"] == []
    await merge(gateway, tenant, target, source)
    data = await gateway.data(
        'query { user(by: {externalUserId: "t"}) { channels { type address optedIn } } }',
        token=tenant.app_token,
    )
    assert data["user"]["channels"] == [
        {"type": "EMAIL", "address": "s@example.com", "optedIn": True},
        {"type": "SMS", "address": "+4915112345678", "optedIn": True},
    ]
