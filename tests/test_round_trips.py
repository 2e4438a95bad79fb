"""The round-trip budget: a page of users costs the same store commands for 1 user as for
100. Each relation of User adds at most a constant (one batched look-up per request,
through the request's DataLoaders), never one look-up per listed user.

To cover a new relation, add its selection to RELATIONS with the commands one request
may spend on it; the test fails when its loader is removed (N users → N commands).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

USERS_ON_PAGE = 6

# Commands of `users(first: N) { totalCount nodes { id … } }` whatever N is: the app key
# behind the token, the page (with one user more, for hasNextPage) and the count.
BASE = Counter({"find app_keys": 1, "find users": 1, "aggregate users": 1})

# selection on each listed user → commands it may add to the whole request
RELATIONS: dict[str, tuple[str, Counter[str]]] = {
    "profile": (
        "id externalUserId type tags emails customAttributes { key type value }",
        Counter(),
    ),
    # "installations": ("installations { id user { id } }", Counter({"find installations": 1})),
}


async def seed(gateway: Gateway, tenant: Tenant) -> None:
    for index in range(USERS_ON_PAGE):
        await gateway.data(
            """mutation($id: String!) { upsertUser(input: {externalUserId: $id, tags: ["t"],
               customAttributes: [{key: "n", value: {number: "1"}}]}) { userErrors { code } } }""",
            {"id": f"u{index}"},
            token=tenant.app_token,
        )


@pytest.mark.parametrize("relation", list(RELATIONS))
async def test_a_page_of_100_costs_what_a_page_of_1_costs(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog, relation: str
) -> None:
    await seed(gateway, tenant)
    selection, extra = RELATIONS[relation]
    query = (
        "query($first: Int!) { users(first: $first) { totalCount nodes { " + selection + " } } }"
    )
    spent = []
    for first in (1, 100):
        with command_log.recording() as commands:
            data = await gateway.data(query, {"first": first}, token=tenant.app_token)
        assert len(data["users"]["nodes"]) == min(first, USERS_ON_PAGE)
        spent.append(commands)
    assert spent[0] == spent[1], f"{relation}: commands grow with the page size"
    assert spent[1] == BASE + extra
