"""The round-trip budget: a page of users costs the same store commands for 1 user as for
100. Each relation of User adds at most a constant (one batched look-up per request,
through the request's DataLoaders), never one look-up per listed user.

To cover a new relation, add its selection to RELATIONS with the commands one request
may spend on it and what every listed user must show of it (so the relation is really
there to load); the test fails when its loader is removed (N users → N commands).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain import installation_data
from app.domain.installation_data import InstallationData, Platform
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

USERS_ON_PAGE = 6

# Commands of `users(first: N) { totalCount nodes { id … } }` whatever N is: the page (with
# one user more, for hasNextPage) and the count. The app key behind the token is read by the
# first request only: each process keeps it for `app_key_cache_seconds` (tests/auth/
# test_app_key_cache.py), so every measured request is preceded by the same one unmeasured.
# The app's rate limit is one bucket in the store, shared by every gateway replica: at most
# one take per request, fewer for a busy app (tests/store/test_shared_limits.py), so the
# takes are left out of the counts here.
BASE = Counter({"find users": 1, "count users": 1})


def _without_rate_limits(commands: Counter[str]) -> Counter[str]:
    assert commands["findAndModify rate_limits"] <= 1
    return Counter({name: count for name, count in commands.items() if name != "findAndModify rate_limits"})


Node = dict[str, Any]


def _installed(node: Node) -> bool:
    return [i["user"]["id"] for i in node["installations"]] == [node["id"]]


def _has_history(node: Node) -> bool:
    kinds = [edge["node"]["kind"] for edge in node["history"]["edges"]]
    return "CHANNEL_ADDED" in kinds and len(kinds) <= 3


def _push_channel_on_device(node: Node) -> bool:
    return [c["installation"]["pushRegistrationId"] for c in node["channels"]] == [
        node["installations"][0]["pushRegistrationId"]
    ]


def _preferences(node: Node) -> bool:
    categories = [item["category"] for item in node["preferences"]["categories"]]
    return categories == ["news"] and node["canReceive"] is True


# selection on each listed user → (commands it may add to the whole request, what each
# listed user must show). The page's users are already loaded, so `user` of a relation
# costs nothing more.
RELATIONS: dict[str, tuple[str, Counter[str], Callable[[Node], bool]]] = {
    "profile": (
        "id externalUserId type tags emails customAttributes { key type value }",
        Counter(),
        lambda node: node["type"] == "LEAD",
    ),
    "installations": (
        "id installations { id pushRegistrationId user { id } }",
        Counter({"find installations": 1}),
        _installed,
    ),
    "history": (
        "history(first: 3) { edges { node { id kind at actor { scope } } } pageInfo { hasNextPage } }",
        Counter({"aggregate history": 1}),
        _has_history,
    ),
    "channels": (
        "channels { type installation { pushRegistrationId user { id } } } installations { pushRegistrationId }",
        Counter({"find installations": 1}),
        _push_channel_on_device,
    ),
    "preferences": (
        'preferences { categories { category optedIn } } canReceive(category: "news", channel: ANDROID_PUSH)',
        # canReceive reads the users' installations: they are the push destinations.
        Counter({"find preference_categories": 1, "find installations": 1}),
        _preferences,
    ),
    # Relations of relations reuse what the request already loaded.
    "all": (
        "id history(first: 3) { edges { node { id kind } } } "
        "preferences { categories { category optedIn } } "
        'canReceive(category: "news", channel: ANDROID_PUSH) '
        "channels { installation { pushRegistrationId user { id } } } "
        "installations { id pushRegistrationId user { id installations { id } "
        "history(first: 3) { edges { node { kind } } } } }",
        Counter({"find installations": 1, "aggregate history": 1, "find preference_categories": 1}),
        lambda node: all(check(node) for check in (_installed, _has_history, _push_channel_on_device, _preferences)),
    ),
}

SAVE = """
mutation($prid: String!) {
  saveInstallation(input: {pushRegistrationId: $prid, platform: ANDROID}) {
    installation { id } userErrors { code }
  }
}
"""
ADD_PUSH = """
mutation($prid: String!) {
  addChannel(by: {pushRegistrationId: $prid},
             channel: {androidPush: {token: $prid, pushRegistrationId: $prid, optedIn: true}}) {
    userErrors { code }
  }
}
"""
DEFINE = """
mutation {
  definePreferenceCategory(input: {name: "news", defaultOptedIn: true}) { userErrors { code } }
}
"""


async def seed(gateway: Gateway, tenant: Tenant) -> None:
    """Every user has an installation, a push channel on it, and history; the app has a
    preference category."""
    token = tenant.app_token
    assert (await gateway.data(DEFINE, token=token))["definePreferenceCategory"]["userErrors"] == []
    for index in range(USERS_ON_PAGE):
        prid = f"device-{index}"
        saved = await gateway.data(SAVE, {"prid": prid}, token=token)
        assert saved["saveInstallation"]["userErrors"] == []
        added = await gateway.data(ADD_PUSH, {"prid": prid}, token=token)
        assert added["addChannel"]["userErrors"] == []


@pytest.mark.parametrize("relation", list(RELATIONS))
async def test_a_page_of_100_costs_what_a_page_of_1_costs(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog, relation: str
) -> None:
    await seed(gateway, tenant)
    selection, extra, present = RELATIONS[relation]
    query = "query($first: Int!) { users(first: $first) { totalCount nodes { " + selection + " } } }"
    spent = []
    for first in (1, 100):
        await gateway.data(query, {"first": first}, token=tenant.app_token)  # the app key is cached
        with command_log.recording() as commands:
            data = await gateway.data(query, {"first": first}, token=tenant.app_token)
        nodes = data["users"]["nodes"]
        assert len(nodes) == min(first, USERS_ON_PAGE)
        assert all(present(node) for node in nodes), f"{relation}: seeded data missing"
        spent.append(_without_rate_limits(commands))
    assert spent[0] == spent[1], f"{relation}: commands grow with the page size"
    assert spent[1] == BASE + extra


async def test_more_installations_than_one_default_batch_still_cost_one_look_up(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog, store: Store
) -> None:
    # 6 users with 21 installations each: more than the 101 documents of MongoDB's default
    # first batch, which would add a getMore for the long page only. (The embedded store
    # answers a find without batchSize in one batch, so this part bites with MONGODB_URI.)
    # Stored directly, as the domain's own constructor builds them: through
    # saveInstallation each would need a personalize too.
    await seed(gateway, tenant)
    now = datetime.now(UTC)
    extra = [
        installation_data.new_document(
            tenant.app_id,
            user["_id"],
            installation_data.validate(InstallationData(f"{user['_id']}-{n}", Platform.IOS)),
            now,
        )
        async for user in store.users.find({"appId": tenant.app_id})
        for n in range(20)
    ]
    await store.installations.insert_many(extra)
    query = "query($first: Int!) { users(first: $first) { nodes { installations { id } } } }"
    spent = []
    for first in (1, 100):
        await gateway.data(query, {"first": first}, token=tenant.app_token)  # the app key is cached
        with command_log.recording() as commands:
            data = await gateway.data(query, {"first": first}, token=tenant.app_token)
        assert [len(n["installations"]) for n in data["users"]["nodes"]] == [21] * min(first, 6)
        spent.append(_without_rate_limits(commands))
    assert spent[0] == spent[1] == Counter({"find users": 1, "find installations": 1})
