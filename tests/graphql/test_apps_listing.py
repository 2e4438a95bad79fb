"""apps: an admin finds every app and its active key ids again; secrets never come back."""

from __future__ import annotations

from typing import Any

from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant

APPS = """
query($first: Int, $after: String) {
  apps(first: $first, after: $after) {
    nodes { id name createdAt keys { id appId secret createdAt revokedAt } }
    pageInfo { hasNextPage endCursor }
    userErrors { code message field }
  }
}
"""
CREATE_KEY = "mutation($appId: ID!) { createAppKey(appId: $appId) { key { id } userErrors { code } } }"
REVOKE = "mutation($appId: ID!, $keyId: ID!) { revokeAppKey(appId: $appId, keyId: $keyId) { userErrors { code } } }"


async def _all_apps(gateway: Gateway, admin_token: str, first: int = 100) -> tuple[list[dict[str, Any]], str]:
    """Every app, page by page, and the raw bodies (to check no secret is in them)."""
    nodes: list[dict[str, Any]] = []
    raw = ""
    after = None
    while True:
        response = await gateway.post(APPS, {"first": first, "after": after}, token=admin_token)
        raw += response.text
        page = response.json()["data"]["apps"]
        assert page["userErrors"] == []
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, raw
        after = page["pageInfo"]["endCursor"]


async def test_an_admin_finds_apps_and_active_key_ids_but_no_secret(gateway: Gateway, admin_token: str) -> None:
    shop = await new_tenant(gateway, admin_token, "Listed shop")
    second = (await gateway.data(CREATE_KEY, {"appId": shop.app_id}, token=admin_token))["createAppKey"]["key"]["id"]
    await gateway.data(REVOKE, {"appId": shop.app_id, "keyId": shop.key_id}, token=admin_token)

    nodes, raw = await _all_apps(gateway, admin_token, first=2)

    found = [node for node in nodes if node["id"] == shop.app_id]
    assert len(found) == 1 and found[0]["name"] == "Listed shop"
    assert [key["id"] for key in found[0]["keys"]] == [second]  # the revoked key is gone
    assert all(key["secret"] is None and key["revokedAt"] is None for key in found[0]["keys"])
    assert shop.key_secret not in raw
    assert [node["id"] for node in nodes] == sorted({node["id"] for node in nodes})  # each once, in id order


async def test_apps_is_admin_only(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute(APPS, {"first": 10}, token=tenant.app_token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_page_over_the_maximum_is_refused_not_cut(gateway: Gateway, admin_token: str) -> None:
    page = (await gateway.data(APPS, {"first": 101}, token=admin_token))["apps"]
    assert page["nodes"] == []
    assert [(error["code"], error["field"]) for error in page["userErrors"]] == [("LIMIT_EXCEEDED", ["first"])]


async def test_a_page_costs_two_store_commands_whatever_its_size(
    gateway: Gateway, admin_token: str, command_log: CommandLog
) -> None:
    for index in range(3):
        await new_tenant(gateway, admin_token, f"round trips {index}")
    for first in (1, 3):
        with command_log.recording() as commands:
            page = (await gateway.data(APPS, {"first": first}, token=admin_token))["apps"]
        assert len(page["nodes"]) == first
        assert commands == {"find apps": 1, "find app_keys": 1}


async def test_a_new_app_lists_its_first_key(gateway: Gateway, admin_token: str) -> None:
    query = 'mutation { createApp(name: "keys") { app { keys { id secret } } key { id } userErrors { code } } }'
    payload = (await gateway.data(query, token=admin_token))["createApp"]
    assert payload["app"]["keys"] == [{"id": payload["key"]["id"], "secret": None}]
