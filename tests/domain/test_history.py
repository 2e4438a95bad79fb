"""User.history and what deleteUser leaves behind (nothing)."""

from __future__ import annotations

from app.store.client import Store
from tests.helpers import Gateway, Tenant, purge_now
from tests.identity_ops import (
    DEPERSONALIZE,
    MERGE,
    UPSERT,
    personalize,
    register,
    register_anonymous,
)

HISTORY = """
query($by: UserRef!, $first: Int, $after: String) {
  user(by: $by) {
    history(first: $first, after: $after) {
      edges { cursor node { kind at actor { scope keyId subject } details } }
      pageInfo { hasNextPage endCursor }
      userErrors { code field }
    }
  }
}
"""


async def history_of(
    gateway: Gateway, tenant: Tenant, first: int = 20, after: str | None = None, **by: str
) -> dict[str, object]:
    data = await gateway.data(HISTORY, {"by": by, "first": first, "after": after}, token=tenant.app_token)
    history: dict[str, object] = data["user"]["history"]
    return history


async def test_identity_events_with_actor(gateway: Gateway, tenant: Tenant, store: Store) -> None:
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
    await purge_now(store)  # the absorbed users' history moves in the background
    history = await history_of(gateway, tenant, externalUserId="alice")
    edges = history["edges"]
    assert isinstance(edges, list)
    kinds = [edge["node"]["kind"] for edge in edges]
    # Newest first; the absorbed users' own history came along with them.
    assert kinds == [
        "DEPERSONALIZED",
        "MERGED",
        "CREATED",
        "PERSONALIZED",
        "INSTALLATION_MOVED",
        "MERGED",
        "CREATED",
        "CREATED",
    ]
    by_kind = {edge["node"]["kind"]: edge["node"] for edge in edges}
    assert by_kind["PERSONALIZED"]["actor"] == {
        "scope": "user",
        "keyId": tenant.key_id,
        "subject": "alice",
    }
    assert by_kind["DEPERSONALIZED"]["actor"]["scope"] == "app"
    assert by_kind["MERGED"]["details"]["strategy"] == "PREFER_TARGET"


async def test_history_pages(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    for tag in ("a", "b", "c", "d"):
        await gateway.data(
            'mutation($t: [String!]!) { addTags(by: {externalUserId: "alice"}, tags: $t) { userErrors { code } } }',
            {"t": [tag]},
            token=tenant.app_token,
        )
    seen: list[str] = []
    after = None
    while True:
        page = await history_of(gateway, tenant, first=2, after=after, externalUserId="alice")
        edges = page["edges"]
        info = page["pageInfo"]
        assert isinstance(edges, list) and isinstance(info, dict)
        seen.extend(edge["node"]["details"].get("tagsAdded", ["created"])[0] for edge in edges)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == ["d", "c", "b", "a", "created"]
    # Paging mistakes are userErrors on the connection, as on users(): the user stays readable.
    bad = await history_of(gateway, tenant, after="garbage", externalUserId="alice")
    assert bad["userErrors"] == [{"code": "INVALID_INPUT", "field": ["after"]}] and bad["edges"] == []
    too_many = await history_of(gateway, tenant, first=500, externalUserId="alice")
    assert too_many["userErrors"] == [{"code": "LIMIT_EXCEEDED", "field": ["first"]}]


LISTED_HISTORY = """
query($first: Int!, $after: String) {
  users(first: 10) {
    nodes {
      externalUserId
      history(first: $first, after: $after) {
        edges { node { kind details } } pageInfo { hasNextPage hasPreviousPage }
      }
    }
  }
}
"""


async def test_history_of_listed_users_pages_each_user_apart(gateway: Gateway, tenant: Tenant) -> None:
    # One batched look-up serves every listed user; each still gets only its own events,
    # newest first, cut at `first` with its own hasNextPage.
    tags = {"ann": ["a", "b", "c"], "bob": ["x"], "cy": []}
    for name, added in tags.items():
        await gateway.data(UPSERT, {"input": {"externalUserId": name}}, token=tenant.app_token)
        for tag in added:
            await gateway.data(
                "mutation($n: String!, $t: [String!]!) { addTags(by: {externalUserId: $n}, "
                "tags: $t) { userErrors { code } } }",
                {"n": name, "t": [tag]},
                token=tenant.app_token,
            )

    async def listed(first: int, after: str | None = None) -> dict[str, tuple[list[str], bool]]:
        data = await gateway.data(LISTED_HISTORY, {"first": first, "after": after}, token=tenant.app_token)
        return {
            node["externalUserId"]: (
                [
                    edge["node"]["details"].get("tagsAdded", [edge["node"]["kind"]])[0]
                    for edge in node["history"]["edges"]
                ],
                node["history"]["pageInfo"]["hasNextPage"],
            )
            for node in data["users"]["nodes"]
        }

    assert await listed(2) == {
        "ann": (["c", "b"], True),
        "bob": (["x", "CREATED"], False),
        "cy": (["CREATED"], False),
    }
    assert await listed(0) == {"ann": ([], True), "bob": ([], True), "cy": ([], True)}
    # `after` is a point in time: the older events of every listed user.
    page = await history_of(gateway, tenant, first=1, externalUserId="bob")
    edges = page["edges"]
    assert isinstance(edges, list)
    assert await listed(3, edges[0]["cursor"]) == {
        "ann": (["c", "b", "a"], True),
        "bob": (["CREATED"], False),
        "cy": ([], False),
    }


async def test_delete_user_leaves_no_identifier_behind(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await register_anonymous(gateway, tenant, "phone")
    await personalize(gateway, tenant, "phone", {"externalUserId": "alice", "emails": ["alice@example.com"]})
    _, lead_token = await register_anonymous(gateway, tenant, "tablet")
    await gateway.data(
        MERGE,
        {"target": {"externalUserId": "alice"}, "source": {"pushRegistrationId": "tablet"}},
        token=tenant.app_token,
    )
    data = await gateway.data(
        'mutation { deleteUser(by: {email: "alice@example.com"}) { deletedUserId userErrors { code } } }',
        token=tenant.app_token,
    )
    assert data["deleteUser"]["userErrors"] == []
    await purge_now(store)  # the history, in the background
    for collection in (store.users, store.installations, store.history, store.sessions):
        leftovers = await collection.find({"appId": tenant.app_id}).to_list()
        assert leftovers == [], (collection.name, leftovers)
    assert (await gateway.post("query { me { id } }", headers={"x-session-token": lead_token})).status_code == 401
