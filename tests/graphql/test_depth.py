"""Absurdly nested queries are refused before anything runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.main import create_app
from tests.helpers import Gateway, Tenant


def _nested_introspection(levels: int) -> str:
    query = "name"
    for _ in range(levels):
        query = f"fields {{ type {{ {query} }} }}"
    return f"query {{ __schema {{ types {{ {query} }} }} }}"


async def test_deep_introspection_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.execute(_nested_introspection(40), token=tenant.app_token)
    assert body.get("data") is None
    assert body["errors"], body
    assert "depth" in body["errors"][0]["message"].lower()


async def test_ordinary_introspection_works(gateway: Gateway, tenant: Tenant) -> None:
    body = await gateway.data(_nested_introspection(1), token=tenant.app_token)
    assert body["__schema"]["types"]


@pytest.fixture
async def shallow_app(settings: Settings, tmp_path: Path) -> AsyncIterator[Starlette]:
    """A second gateway (with a store of its own when embedded) whose depth limit is 1."""
    # Its own data directory: an SQLite store (TEST_EMBEDDED_ENGINE=sqlite) is one per directory.
    application: Starlette = create_app(settings.model_copy(update={"max_query_depth": 1, "data_dir": tmp_path}))
    async with application.router.lifespan_context(application):
        yield application


async def test_the_configured_depth_limit_applies(shallow_app: Starlette, admin_token: str) -> None:
    transport = httpx.ASGITransport(app=shallow_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        gateway = Gateway(client)
        within = await gateway.execute("query { me { id } }", token=admin_token)
        assert "depth" not in str(within) and within["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        apps = shallow_app.state.runtime.store.apps
        before = await apps.count_documents({})
        for deeper in (
            'mutation { createApp(name: "deep") { app { id } key { id secret } } }',
            'mutation { a: createApp(name: "ok") { __typename } b: createApp(name: "deep") { key { x: id } } }',
            'mutation { ...deep } fragment deep on Mutation { createApp(name: "deep") { app { id } } }',
            'query { user(by: {externalUserId: "x"}) { customAttributes { key } } }',
        ):
            body = await gateway.execute(deeper, token=admin_token)
            assert body.get("data") is None and "depth" in body["errors"][0]["message"], deeper
        # Refused before running: nothing was stored.
        assert await apps.count_documents({}) == before
