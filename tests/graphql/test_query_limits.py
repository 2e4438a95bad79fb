"""Depth, token, alias and cost limits; batching; suggestions; validation cached once."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import specified_rules

from app.graphql import execution
from tests.helpers import Gateway, Tenant, error_codes


def messages(body: dict[str, Any]) -> list[str]:
    return [error["message"] for error in body.get("errors", [])]


async def test_too_deep_a_query_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    levels = ["users", "edges", "node", "customAttributes", "a", "b", "c", "d", "e"]
    too_deep = "query { " + " { ".join(levels) + " { f" + " }" * len(levels) + " }"
    response = await gateway.post(too_deep, token=tenant.app_token)
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert "'anonymous' exceeds maximum operation depth of 8" in messages(response.json())


async def test_too_many_tokens_are_refused_before_parsing_finishes(gateway: Gateway, tenant: Tenant) -> None:
    query = "query { " + " ".join(["__typename"] * 2_001) + " }"
    response = await gateway.post(query, token=tenant.app_token)
    assert response.status_code == 200
    assert messages(response.json()) == ["Syntax Error: Document contains more than 2000 tokens. Parsing aborted."]


async def test_too_many_aliases_are_refused(gateway: Gateway, tenant: Tenant) -> None:
    query = "query { " + " ".join(f"a{index}: __typename" for index in range(16)) + " }"
    body = (await gateway.post(query, token=tenant.app_token)).json()
    assert messages(body) == ["16 aliases found. Allowed: 15"]
    allowed = "query { " + " ".join(f"a{index}: __typename" for index in range(15)) + " }"
    await gateway.data(allowed, token=tenant.app_token)


async def test_an_operation_that_may_return_too_many_objects_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    # Each occurrence of a page counts (the rule sees the document, before fields merge).
    query = "query { " + " ".join(["users(first: 100) { totalCount }"] * 101) + " }"
    response = await gateway.post(query, token=tenant.app_token)
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["errors"][0]["extensions"]["cost"] == 10_100
    assert "the limit is 10,000" in body["errors"][0]["message"]
    await gateway.data(
        "query { " + " ".join(["users(first: 100) { totalCount }"] * 100) + " }",
        token=tenant.app_token,
    )


async def test_batches_are_refused(gateway: Gateway, tenant: Tenant) -> None:
    response = await gateway.client.post(
        "/graphql",
        json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}],
        headers={"authorization": f"Bearer {tenant.app_token}"},
    )
    assert response.status_code == 400


async def test_field_suggestions_are_shown_in_development(gateway: Gateway, tenant: Tenant) -> None:
    body = (await gateway.post("{ usrs { id } }", token=tenant.app_token)).json()
    assert "Did you mean 'users'" in messages(body)[0]


async def test_a_repeated_query_is_validated_once_with_all_limits_on(
    gateway: Gateway, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[int] = []
    original = execution.validate  # type: ignore[attr-defined]

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        validated.append(len(args[2]))  # the rules: the specified ones plus the limits
        return original(*args, **kwargs)

    # The HTTP operation runner validates through this name, once per distinct text.
    monkeypatch.setattr(execution, "validate", counting_validate)
    query = "query RepeatedOnce { users(first: 3) { totalCount nodes { id tags } } }"
    for _ in range(3):
        await gateway.data(query, token=tenant.app_token)
    assert len(validated) == 1
    specified = len(specified_rules) + 2  # + strawberry's oneOf and Maybe rules
    assert validated[0] == specified + 4  # fragments, depth, aliases and cost
