"""The HTTP surface: /graphql (POST, GraphiQL on GET), /healthz, /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.main import Runtime, create_app
from tests.helpers import Tenant


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_graphiql_is_served_on_get(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_queries_over_get_need_credentials(http: httpx.AsyncClient, tenant: Tenant) -> None:
    query = {"query": "{ me { id } }"}
    assert (await http.get("/graphql", params=query)).status_code == 401
    response = await http.get("/graphql", params=query, headers={"authorization": f"Bearer {tenant.app_token}"})
    assert (response.status_code, response.json()) == (200, {"data": {"me": None}})


async def test_mutations_are_refused_over_get(http: httpx.AsyncClient, tenant: Tenant) -> None:
    query = {"query": 'mutation { upsertUser(input: {externalUserId: "g"}) { user { id } } }'}
    response = await http.get("/graphql", params=query, headers={"authorization": f"Bearer {tenant.app_token}"})
    assert response.status_code != 200


@pytest.fixture
async def separate_app(settings: Settings, tmp_path: Path) -> AsyncIterator[Starlette]:
    # A data directory of its own: an SQLite store (TEST_EMBEDDED_ENGINE=sqlite) is one per directory.
    application = create_app(settings.model_copy(update={"store_timeout_ms": 300, "data_dir": tmp_path}))
    async with application.router.lifespan_context(application):
        yield application


async def test_readyz_is_503_when_the_store_is_gone(separate_app: Starlette, settings: Settings) -> None:
    runtime: Runtime = separate_app.state.runtime
    if runtime.store.embedded is None:
        pytest.skip("only the embedded store can be stopped from a test")
    transport = httpx.ASGITransport(app=separate_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        assert (await client.get("/readyz")).status_code == 200
        runtime.store.embedded.stop()
        await runtime.store.client.close()  # drop pooled connections to the stopped server
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert (await client.get("/healthz")).status_code == 200


async def test_get_without_a_query_runs_nothing(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "application/json"})
    assert response.status_code == 400
