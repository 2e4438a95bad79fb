"""GraphQL over HTTP as the spec draft asks: media types, status codes of request errors, methods,
GET parameters and caching (the audit in test_graphql_http_audit.py checks the same from outside)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import Tenant

GRAPHQL_RESPONSE = "application/graphql-response+json"


def bearer(tenant: Tenant, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tenant.app_token}", **extra}


async def post(http: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await http.post("/graphql", json=body, headers=bearer(tenant, **headers))


async def test_the_spec_media_type_is_answered_when_accepted(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post(http, tenant, {"query": "{ __typename }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_media_types_are_negotiated_case_insensitively(http: httpx.AsyncClient, tenant: Tenant) -> None:
    cases = {
        "Application/GraphQL-Response+JSON": GRAPHQL_RESPONSE,
        "application/json, application/graphql-response+json": GRAPHQL_RESPONSE,
        "application/graphql-response+json;q=0.5, application/json": "application/json",
        "application/JSON": "application/json",
        "*/*": "application/json",
        "": "application/json",
    }
    for accept, expected in cases.items():
        response = await post(http, tenant, {"query": "{ __typename }"}, accept=accept)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == expected, accept


async def test_a_request_body_typed_in_capitals_is_json(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }"}),
        headers=bearer(tenant, **{"content-type": "Application/JSON; charset=UTF-8"}),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_no_acceptable_media_type_is_406(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post(http, tenant, {"query": "{ __typename }"}, accept="text/html")
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


REQUEST_ERRORS: dict[str, dict[str, Any]] = {
    "parse": {"query": "{"},
    "validation": {"query": "{ noSuchField }"},
    "variable coercion": {"query": "query Q($id: ID!) { __typename }", "variables": {"id": None}},
    "several operations, no operationName": {"query": "query A { __typename } query B { __typename }"},
    "persisted query not found": {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
    },
}


async def test_request_errors_are_400_without_data_for_the_spec_media_type(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    for case, body in REQUEST_ERRORS.items():
        response = await post(http, tenant, body, accept=GRAPHQL_RESPONSE)
        assert response.status_code == 400, (case, response.text)
        assert response.headers["content-type"] == GRAPHQL_RESPONSE, case
        answer = response.json()
        assert "data" not in answer, case
        assert answer["errors"], case


async def test_request_errors_stay_200_for_legacy_json_clients(http: httpx.AsyncClient, tenant: Tenant) -> None:
    for case in ("parse", "validation", "variable coercion", "persisted query not found"):
        response = await post(http, tenant, REQUEST_ERRORS[case], accept="application/json")
        assert response.status_code == 200, (case, response.text)
        assert response.headers["content-type"] == "application/json", case
        assert response.json()["data"] is None, case
    # Already a 4xx before this media type existed; it stays one.
    several = await post(http, tenant, REQUEST_ERRORS["several operations, no operationName"])
    assert several.status_code == 400


async def test_a_field_error_keeps_data_and_200_for_the_spec_media_type(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    # An app token may not list apps: the field errors, the request itself ran.
    response = await post(http, tenant, {"query": "{ __typename apps { nodes { id } } }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "data" in answer
    assert answer["errors"][0]["path"] == ["apps"]


async def test_empty_get_parameters_count_as_absent(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.get(
        "/graphql?query={__typename}&operationName=&variables=&extensions=", headers=bearer(tenant)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_other_methods_are_405_with_allow(http: httpx.AsyncClient, tenant: Tenant) -> None:
    for method in ("HEAD", "PUT", "DELETE", "PATCH"):
        response = await http.request(method, "/graphql?query={__typename}", headers=bearer(tenant))
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, POST", method
        if method != "HEAD":
            assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_mutation_over_get_is_405_allow_post(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.get(
        "/graphql",
        params={"query": 'mutation { deleteUser(by: {externalUserId: "u-1"}) { deletedUserId } }'},
        headers=bearer(tenant, accept=GRAPHQL_RESPONSE),
    )
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_one_of_violation_in_variables_is_bad_user_input(http: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {
        "query": "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId } }",
        "variables": {"by": {"externalUserId": "u-1", "email": "u@example.com"}},
    }
    response = await post(http, tenant, body)
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"]


async def test_a_refused_cors_preflight_answers_the_json_error_shape(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/graphql",
        headers={"origin": "https://elsewhere.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_authenticated_get_answers_are_not_cacheable(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.get("/graphql", params={"query": "{ __typename }"}, headers=bearer(tenant))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"


async def test_a_post_body_that_is_not_json_is_415(http: httpx.AsyncClient, tenant: Tenant) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = bearer(tenant) | ({"content-type": content_type} if content_type else {})
        response = await http.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
        assert response.status_code == 415, content_type
        assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_refusals_before_graphql_use_the_negotiated_media_type(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await http.post(
        "/graphql",
        content=b'{ "not JSON',
        headers=bearer(tenant, accept=GRAPHQL_RESPONSE, **{"content-type": "application/json"}),
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_post_answers_carry_no_cache_control(http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post(http, tenant, {"query": "{ __typename }"})
    assert "cache-control" not in response.headers


async def test_a_subscription_sent_over_http_is_a_request_error(http: httpx.AsyncClient, tenant: Tenant) -> None:
    """It has no stream to answer on: a 400 that says where subscriptions run (it used to be
    run and fail as an INTERNAL_SERVER_ERROR, logged as a bug)."""
    query = "subscription { userChanges { type } }"
    for response in (
        await post(http, tenant, {"query": query}),
        await http.get("/graphql", params={"query": query}, headers=bearer(tenant)),
    ):
        assert response.status_code == 400, response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "websocket" in error["message"]
