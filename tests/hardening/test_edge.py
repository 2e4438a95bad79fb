"""Limits and headers at the edge: body size, rate limit, CORS, security headers, explorers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.hardening.conftest import ALLOWED_ORIGIN, STRICT_BURST
from tests.helpers import Gateway, Tenant, error_codes

ME = 'query { user(by: {externalUserId: "nobody"}) { id } }'


def assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert error_codes(body) == [code]
    assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_oversized_body_is_refused_with_413(http: httpx.AsyncClient, tenant: Tenant) -> None:
    big = b'{"query": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    headers = {"authorization": f"Bearer {tenant.app_token}", "content-type": "application/json"}
    declared = await http.post("/graphql", content=big, headers=headers)
    assert_json_error(declared, 413, "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 256 * 1024):
            yield big[start : start + 256 * 1024]

    streamed = await http.post("/graphql", content=chunks(), headers=headers)
    assert_json_error(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_rate_limit_per_app_answers_429_with_retry_after(
    strict_http: httpx.AsyncClient, strict_tenant: Tenant, admin_token: str
) -> None:
    gateway = Gateway(strict_http)
    for _ in range(STRICT_BURST):
        assert (await gateway.post(ME, token=strict_tenant.app_token)).status_code == 200
    refused = await gateway.post(ME, token=strict_tenant.app_token)
    assert_json_error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["retry-after"]) >= 1
    # The limit is per app: another app is not slowed down by this one.
    from tests.conftest import new_tenant

    other = await new_tenant(gateway, admin_token, "neighbour")
    assert (await gateway.post(ME, token=other.app_token)).status_code == 200


async def test_cors_allows_only_the_configured_origins(strict_http: httpx.AsyncClient) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
    }
    allowed = await strict_http.options("/graphql", headers={"origin": ALLOWED_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = await strict_http.options("/graphql", headers={"origin": "https://evil.example", **preflight})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


async def test_security_headers_on_every_response(http: httpx.AsyncClient, strict_http: httpx.AsyncClient) -> None:
    for response in (await http.get("/healthz"), await http.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # development: maybe no TLS
    production = await strict_http.get("/healthz")
    assert production.headers["strict-transport-security"].startswith("max-age=")


async def test_production_turns_graphiql_and_introspection_off(
    strict_http: httpx.AsyncClient, strict_tenant: Tenant
) -> None:
    page = await strict_http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("application/json")
    assert (await strict_http.get("/static/vendor/graphiql@3.8.3/graphiql.min.js")).status_code == 404
    body = await Gateway(strict_http).execute("{ __schema { types { name } } }", token=strict_tenant.app_token)
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_plain_text_refusals_become_structured_json(http: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {"authorization": f"Bearer {tenant.app_token}", "content-type": "application/json"}
    malformed = await http.post("/graphql", content=b'{"query": ', headers=headers)
    assert_json_error(malformed, 400, "BAD_REQUEST")
    assert malformed.json()["errors"][0]["message"] == "Unable to parse request body as JSON"
    assert_json_error(await http.get("/nowhere"), 404, "NOT_FOUND")
    assert_json_error(await http.delete("/graphql"), 405, "METHOD_NOT_ALLOWED")


async def test_graphiql_is_served_with_local_assets(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    assets = [part.split('"')[0] for part in page.text.split('="/static/vendor/')[1:]]
    assert len(assets) == 7
    for asset in assets:
        served = await http.get(f"/static/vendor/{asset}")
        assert served.status_code == 200, asset
