"""changeEvents: every committed change as an event, in commit order, resumable from a cursor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.events import global_user_id
from app.graphql.ids import encode_id
from app.store import outbox
from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, MERGE, UPSERT, personalize, register, register_anonymous

FEED = """
query($after: String, $first: Int, $types: [String!]) {
  changeEvents(after: $after, first: $first, eventTypes: $types) {
    edges { cursor node { id type occurredAt appId userId externalUserId version changed sourceUserId deletionReason } }
    nodes { id }
    pageInfo { hasNextPage endCursor }
    userErrors { code message field }
  }
}
"""
ADD_TAGS = 'mutation($t: [String!]!) { addTags(by: {externalUserId: "alice"}, tags: $t) { userErrors { code } } }'
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { userErrors { code } } }"


async def feed(gateway: Gateway, tenant: Tenant, **variables: Any) -> dict[str, Any]:
    data = await gateway.data(FEED, variables, token=tenant.app_token)
    connection: dict[str, Any] = data["changeEvents"]
    return connection


def test_global_user_id_matches_the_api_encoding() -> None:
    assert global_user_id("abc123") == encode_id("User", "abc123")


async def test_upsert_and_update_become_events_with_names_only(gateway: Gateway, tenant: Tenant) -> None:
    created = await gateway.data(
        'mutation { upsertUser(input: {externalUserId: "alice", emails: ["a@example.com"]}) { user { id } } }',
        token=tenant.app_token,
    )
    await gateway.data(ADD_TAGS, {"t": ["vip"]}, token=tenant.app_token)
    page = await feed(gateway, tenant)
    assert page["userErrors"] == []
    events = [edge["node"] for edge in page["edges"]]
    assert [event["type"] for event in events] == ["user.created", "user.updated"]
    first, second = events
    assert first["userId"] == created["upsertUser"]["user"]["id"]
    assert first["externalUserId"] == "alice"
    assert first["appId"] == tenant.app_id
    assert "emails" in first["changed"]
    assert "a@example.com" not in str(events)  # names, never values
    assert second["changed"] == ["tags"]
    assert second["version"] == first["version"] + 1
    assert len({first["id"], second["id"]}) == 2


async def test_cursor_resumes_and_filters_keep_position(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    first_page = await feed(gateway, tenant, first=1)
    assert [edge["node"]["type"] for edge in first_page["edges"]] == ["user.created"]
    cursor = first_page["pageInfo"]["endCursor"]
    for tag in ("a", "b"):
        await gateway.data(ADD_TAGS, {"t": [tag]}, token=tenant.app_token)
    rest = await feed(gateway, tenant, after=cursor)
    assert [edge["node"]["type"] for edge in rest["edges"]] == ["user.updated", "user.updated"]
    assert rest["pageInfo"]["hasNextPage"] is False
    # Nothing new: an empty page keeps the position.
    empty = await feed(gateway, tenant, after=rest["pageInfo"]["endCursor"])
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] == rest["pageInfo"]["endCursor"]
    # A filter skips other types but its cursor moves past them.
    created_only = await feed(gateway, tenant, types=["user.created"])
    assert [edge["node"]["type"] for edge in created_only["edges"]] == ["user.created"]
    after_filter = await feed(gateway, tenant, after=created_only["pageInfo"]["endCursor"])
    assert after_filter["edges"] == []


async def test_identity_changes_and_deletion(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    await register_anonymous(gateway, tenant, "phone")
    await personalize(gateway, tenant, "phone", {"externalUserId": "alice"}, token=tenant.user_token("alice"))
    await register(gateway, tenant, "tablet")
    await gateway.data(
        MERGE,
        {"target": {"externalUserId": "alice"}, "source": {"pushRegistrationId": "tablet"}},
        token=tenant.app_token,
    )
    await gateway.data(DEPERSONALIZE, {"prid": "tablet"}, token=tenant.app_token)
    await gateway.data(DELETE, {"by": {"externalUserId": "alice"}}, token=tenant.app_token)
    events = [edge["node"] for edge in (await feed(gateway, tenant))["edges"]]
    types = [event["type"] for event in events]
    for expected in (
        "user.created",
        "installation.saved",
        "user.personalized",
        "user.depersonalized",
        "user.merged",
        "user.deleted",
    ):
        assert expected in types, types
    merged = next(event for event in events if event["type"] == "user.merged")
    assert merged["sourceUserId"] is not None and merged["sourceUserId"] != merged["userId"]
    deleted = events[-1]
    assert deleted["type"] == "user.deleted" and deleted["externalUserId"] == "alice"
    assert deleted["deletionReason"] == "request" and merged["deletionReason"] is None


async def test_concurrent_changes_each_carry_the_version_they_wrote(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    answers = await asyncio.gather(
        *(gateway.data(ADD_TAGS, {"t": [f"t{n}"]}, token=tenant.app_token) for n in range(20))
    )
    applied = sum(1 for answer in answers if answer["addTags"]["userErrors"] == [])
    events = [edge["node"] for edge in (await feed(gateway, tenant))["edges"]]
    assert sorted(event["version"] for event in events) == list(range(applied + 1))


async def test_bad_arguments_are_user_errors(gateway: Gateway, tenant: Tenant) -> None:
    for variables, code in (
        ({"first": 501}, "LIMIT_EXCEEDED"),
        ({"after": "bm90IGEgY3Vyc29y"}, "INVALID_INPUT"),
        ({"types": ["user.exploded"]}, "INVALID_INPUT"),
    ):
        page = await feed(gateway, tenant, **variables)
        assert [error["code"] for error in page["userErrors"]] == [code]
        assert page["edges"] == []


async def test_user_tokens_cannot_read_the_feed(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute(FEED, {}, token=tenant.user_token("alice"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_reader_waits_at_a_young_hole_and_skips_an_old_one(store: Store, tenant: Tenant) -> None:
    """A number handed out but not yet inserted (a write outside a transaction) must not be
    skipped by a reader that already sees the next one, unless it never arrives."""
    now = datetime.now(UTC)
    body = {"type": "user.updated", "appId": tenant.app_id, "userId": "x", "changed": [], "version": 1}
    await outbox.append(store, tenant.app_id, [{**body, "occurredAt": now}])
    # Number 2 is taken but its insert has not happened yet; number 3 is visible.
    await outbox.counters(store).update_one({"_id": tenant.app_id}, {"$inc": {"seq": 1}})
    await outbox.append(store, tenant.app_id, [{**body, "occurredAt": now}])
    page = await outbox.read(store, tenant.app_id, 0, 10, now)
    assert [entry["seq"] for entry in page.entries] == [1]
    later = await outbox.read(store, tenant.app_id, 1, 10, now + outbox.GAP_GRACE + timedelta(seconds=1))
    assert [entry["seq"] for entry in later.entries] == [3]
