"""Filtered pages that no index narrows read a bounded window of users (app/domain/listing.py,
SCAN_WINDOW): every filtered page on the embedded store, and on MongoDB a filter with `ne` or
`exists: false`. A filter that matches few users costs the same per page at any app size, and
walking the pages still finds every match once, in order."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from app.domain import listing
from app.domain.attributes import AttributeType, TypedValue
from app.domain.segments import (
    AttributeCondition,
    UserFilter,
    compile_filter,
    matches_missing_keys,
    names_attributes,
)
from app.store import users as users_store
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

UPSERT = "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { userErrors { code } } }"

LIST = """
query($filter: UserFilter, $first: Int, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { externalUserId }
  }
}
"""

# u0 … u11; the "vip" ones are far apart, so some windows of 3 users hold none of them.
VIPS = ("u1", "u8", "u9", "u10")


async def _seed(gateway: Gateway, tenant: Tenant) -> None:
    for index in range(12):
        name = f"u{index}"
        record: dict[str, Any] = {"externalUserId": name, "tags": ["vip"] if name in VIPS else ["regular"]}
        if name in VIPS:  # a NUMBER attribute: Decimal128 in the store
            record["customAttributes"] = [{"key": "ltv", "value": {"number": f"{100 + index}.5"}}]
        data = await gateway.data(UPSERT, {"input": record}, token=tenant.app_token)
        assert data["upsertUser"]["userErrors"] == []


def _embedded(store: Store) -> Store:
    """The same store with the embedded store's rules on (they also run on MongoDB)."""
    return Store(client=store.client, db=store.db, embedded_workarounds=True)


def _mongodb(store: Store) -> Store:
    """The same store with MongoDB's rules (they also run on the embedded store)."""
    return Store(client=store.client, db=store.db, embedded_workarounds=False)


async def test_a_sparse_filter_is_walked_window_by_window_and_finds_every_match_once(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _seed(gateway, tenant)
    pages: list[listing.UserPage] = []
    after: str | None = None
    while not pages or pages[-1].has_next_page:
        page = await listing.list_users(
            _embedded(store), tenant.app_id, UserFilter(tags_any=["vip"]), 2, after, scan_window=3
        )
        pages.append(page)
        assert page.end_id is not None
        after = listing.encode_cursor(page.end_id)
    found = [user["externalUserId"] for page in pages for user in page.users]
    assert found == list(VIPS)
    # The window u0-u2 holds u1 only and u3-u5 holds none: those pages end early, the second empty.
    assert [len(page.users) for page in pages][:2] == [1, 0]
    assert not pages[1].matched_more
    assert pages[-1].has_next_page is False


async def test_a_page_that_fills_within_its_window_is_full(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _seed(gateway, tenant)
    page = await listing.list_users(_embedded(store), tenant.app_id, UserFilter(tags_any=["regular"]), 2, None, 5)
    assert [user["externalUserId"] for user in page.users] == ["u0", "u2"]
    assert page.has_next_page and page.matched_more
    assert page.end_id == page.users[-1]["_id"]


async def test_the_last_window_says_no_more_pages(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _seed(gateway, tenant)
    # Exactly 12 users: a window of 12 ends at the last one, and nothing follows it.
    page = await listing.list_users(_embedded(store), tenant.app_id, UserFilter(tags_any=["vip"]), 10, None, 12)
    assert [user["externalUserId"] for user in page.users] == list(VIPS)
    assert page.has_next_page is False


async def test_a_filtered_page_reads_only_its_window(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _seed(gateway, tenant)
    with command_log.capturing() as commands:
        await listing.list_users(_embedded(store), tenant.app_id, UserFilter(tags_any=["vip"]), 2, None, 3)
    window, page = (command for command in commands if command.get("find") == "users")
    assert window["skip"] == 2 and window["limit"] == 2 and window["projection"] == {"_id": 1}
    assert window["filter"] == {"appId": tenant.app_id}
    # The page stops at the window's last user: no read past it, however few users match.
    assert set(page["filter"]["_id"]) == {"$lte"}
    assert len(commands) == 2


async def test_unfiltered_pages_and_other_stores_read_no_window(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _seed(gateway, tenant)
    with command_log.recording() as commands:
        await listing.list_users(_embedded(store), tenant.app_id, None, 2, None, 3)
        await listing.list_users(_mongodb(store), tenant.app_id, UserFilter(tags_any=["vip"]), 2, None, 3)
    assert commands == {"find users": 2}


async def test_on_mongodb_a_filter_matching_missing_keys_is_windowed(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _seed(gateway, tenant)
    # No user has a `plan`, so all 12 match; no index entry names a missing key.
    without_plan = UserFilter(attributes=[_condition(exists=False)])
    with command_log.recording() as commands:
        page = await listing.list_users(_mongodb(store), tenant.app_id, without_plan, 20, None, 3)
    assert commands == {"find users": 2}
    assert [user["externalUserId"] for user in page.users] == ["u0", "u1", "u2"]
    assert page.has_next_page and not page.matched_more


def _condition(**given: Any) -> AttributeCondition:
    return AttributeCondition(key="plan", **given)


def test_which_filters_match_users_without_the_key() -> None:
    def compiled(condition: AttributeCondition) -> bool:
        return matches_missing_keys(compile_filter("app", UserFilter(attributes=[condition])))

    gold = TypedValue(AttributeType.STRING, "gold")
    assert compiled(_condition(exists=False))
    assert compiled(_condition(ne=gold))
    assert not compiled(_condition(exists=True))
    assert not compiled(_condition(eq=gold))
    assert not compiled(_condition(in_=[gold]))
    assert not matches_missing_keys(compile_filter("app", UserFilter(tags_any=["vip"], has_channel=None)))
    assert not matches_missing_keys(compile_filter("app", None))


async def test_over_graphql_an_early_page_continues_from_its_window(
    gateway: Gateway, tenant: Tenant, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not store.embedded_workarounds:
        pytest.skip("the scan window is the embedded store's; MongoDB serves the filter from an index")
    monkeypatch.setattr(listing, "SCAN_WINDOW", 3)
    await _seed(gateway, tenant)
    found: list[str] = []
    sizes: list[int] = []
    variables: dict[str, Any] = {"filter": {"tagsAny": ["vip"]}, "first": 2}
    while True:
        page = (await gateway.data(LIST, variables, token=tenant.app_token))["users"]
        assert page["totalCount"] == len(VIPS)  # the count is not windowed
        found += [node["externalUserId"] for node in page["nodes"]]
        sizes.append(len(page["nodes"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert found == list(VIPS)
    assert 0 in sizes  # an empty page that still continues


def _rich() -> UserFilter:
    return UserFilter(attributes=[AttributeCondition(key="ltv", gte=TypedValue(AttributeType.NUMBER, Decimal("100")))])


async def test_attribute_conditions_are_matched_on_the_window_only(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    """The embedded store matches a condition on an attribute holding numbers in Python: as
    one find it decoded every user of the store, window or not (1.0 s at 20,000 users). The
    window's users are selected first, then the attributes matched on them."""
    await _seed(gateway, tenant)
    found: list[str] = []
    after: str | None = None
    with command_log.capturing() as commands:
        while True:
            page = await listing.list_users(_embedded(store), tenant.app_id, _rich(), 2, after, scan_window=3)
            found += [user["externalUserId"] for user in page.users]
            if not page.has_next_page:
                break
            assert page.end_id is not None
            after = listing.encode_cursor(page.end_id)
    assert found == list(VIPS)
    pages = [command for command in commands if command.get("aggregate") == "users"]
    assert pages and len(pages) == len([c for c in commands if c.get("find") == "users"])  # one per window
    for command in pages:
        selected, sort, conditions, limit = command["pipeline"]
        assert "$lte" in selected["$match"]["_id"] and not any(key.startswith("attrs") for key in selected["$match"])
        assert sort == {"$sort": {"_id": 1}} and limit == {"$limit": 3}
        assert any(key.startswith("attrs.") for clause in conditions["$match"]["$and"] for key in clause)


async def test_an_attribute_window_is_smaller(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _seed(gateway, tenant)
    with command_log.capturing() as commands:
        await listing.list_users(_embedded(store), tenant.app_id, _rich(), 2, None)
        await listing.list_users(_embedded(store), tenant.app_id, UserFilter(tags_any=["vip"]), 2, None)
    skips = [command["skip"] for command in commands if command.get("find") == "users" and "skip" in command]
    assert skips == [listing.ATTRIBUTE_SCAN_WINDOW - 1, listing.SCAN_WINDOW - 1]


async def test_on_mongodb_attribute_conditions_stay_one_find(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _seed(gateway, tenant)
    with command_log.recording() as commands:
        page = await listing.list_users(_mongodb(store), tenant.app_id, _rich(), 10, None)
    assert commands == {"find users": 1}
    assert [user["externalUserId"] for user in page.users] == list(VIPS)


def test_which_filters_name_attributes() -> None:
    assert names_attributes(compile_filter("app", _rich()))
    assert not names_attributes(compile_filter("app", UserFilter(tags_any=["vip"])))
    assert not names_attributes(compile_filter("app", None))


async def test_a_page_with_no_conditions_is_never_an_empty_match_stage(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    """MongoDB refuses `{$and: []}`: with nothing to match in the window, the page is a find."""
    await _seed(gateway, tenant)
    with command_log.recording() as commands:
        found = await users_store.page(store, compile_filter(tenant.app_id, None), None, 3, match_in_window=True)
    assert commands == {"find users": 1} and len(found) == 4


async def test_counting_attribute_conditions_on_the_embedded_store_gets_less_time(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    """The embedded store counts them one user at a time (about 0.1 s per 1,000 users)."""
    await _seed(gateway, tenant)
    rich, tags = compile_filter(tenant.app_id, _rich()), compile_filter(tenant.app_id, UserFilter(tags_any=["vip"]))
    with command_log.capturing() as commands:
        counted = await listing.count_users(_embedded(store), rich, 100, 0)
        await listing.count_users(_embedded(store), tags, 100, 0)
        await listing.count_users(_mongodb(store), rich, 100, 0)
    assert counted == listing.Count(len(VIPS), exact=True)
    limits = [command["maxTimeMS"] for command in commands if command.get("count") == "users"]
    assert limits == [
        listing.EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS,
        listing.COUNT_TIME_LIMIT_MS,
        listing.COUNT_TIME_LIMIT_MS,
    ]


async def test_concurrent_walks_while_users_are_added_each_find_every_match_once(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """Eight clients page through a sparse filter at once while new matching users arrive:
    a user created between a window's end and its page has a later id, so no walk repeats or
    skips one; the seeded matches come first, in order, in every walk."""
    await _seed(gateway, tenant)

    async def walk() -> list[str]:
        found: list[str] = []
        after: str | None = None
        while True:
            page = await listing.list_users(_embedded(store), tenant.app_id, UserFilter(tags_any=["vip"]), 2, after, 3)
            found += [user["externalUserId"] for user in page.users]
            if not page.has_next_page:
                return found
            assert page.end_id is not None
            after = listing.encode_cursor(page.end_id)

    async def add(index: int) -> None:
        record = {"externalUserId": f"late{index}", "tags": ["vip"]}
        data = await gateway.data(UPSERT, {"input": record}, token=tenant.app_token)
        assert data["upsertUser"]["userErrors"] == []

    walks = [asyncio.ensure_future(walk()) for _ in range(8)]
    await asyncio.gather(*walks, *(add(index) for index in range(4)))
    for found in (done.result() for done in walks):
        assert found[: len(VIPS)] == list(VIPS)
        assert len(found) == len(set(found))
        assert all(name.startswith("late") for name in found[len(VIPS) :])
