"""A store outage: readiness fails, GraphQL says UNAVAILABLE quickly, and the gateway heals."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.auth import tokens
from app.config import Settings
from app.main import Runtime, create_app
from app.store.embedded import EmbeddedServer
from tests.conftest import new_tenant
from tests.helpers import Gateway, error_codes

UPSERT = """
mutation($id: String!) {
  upsertUser(input: {externalUserId: $id, tags: ["acked"]}) {
    user { externalUserId } userErrors { code }
  }
}
"""
READ = "query($id: String!) { user(by: {externalUserId: $id}) { externalUserId tags } }"
# Short enough to keep the test quick, long enough for a loaded CI machine.
STORE_TIMEOUT_MS = 400
RECOVERY_SECONDS = 20


class Outage:
    def __init__(self, http: httpx.AsyncClient, admin_token: str, server: EmbeddedServer) -> None:
        self.http = http
        self.gateway = Gateway(http)
        self.admin_token = admin_token
        self.server = server

    async def wait_ready(self) -> None:
        async with asyncio.timeout(RECOVERY_SECONDS):
            while (await self.http.get("/readyz")).status_code != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.1)


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    # Its own gateway on a SQLite store, so a restart keeps the data and the session's
    # gateway is never disturbed.
    admin_secret = secrets.token_urlsafe(48)
    settings = Settings(
        mongodb_uri=None,  # even when the suite runs against MONGODB_URI
        data_dir=tmp_path,
        embedded_engine="sqlite",
        store_timeout_ms=STORE_TIMEOUT_MS,
        # Keys read from the store on every request, so the app token below needs the store.
        app_key_cache_seconds=0,
        admin_secret=SecretStr(admin_secret),
        master_key=SecretStr(Fernet.generate_key().decode()),
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        runtime: Runtime = application.state.runtime
        assert runtime.store.embedded is not None
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield Outage(http, tokens.mint(admin_secret, {"scope": "admin"}), runtime.store.embedded)


async def test_outage_is_unavailable_then_heals_without_losing_acknowledged_writes(
    outage: Outage,
) -> None:
    tenant = await new_tenant(outage.gateway, outage.admin_token)
    acked = await outage.gateway.data(UPSERT, {"id": "before"}, token=tenant.app_token)
    assert acked["upsertUser"]["userErrors"] == []

    outage.server.stop()
    async with asyncio.timeout(5 * STORE_TIMEOUT_MS / 1000 + 2):  # bounded: never a hang
        ready = await outage.http.get("/readyz")
        assert ready.status_code == 503
        # An app token needs the store to be checked: 503 with a JSON error.
        refused = await outage.gateway.post(UPSERT, {"id": "during"}, token=tenant.app_token)
        assert refused.status_code == 503
        assert error_codes(refused.json()) == ["UNAVAILABLE"]
        # An admin token is checked without the store; the resolver then meets the outage.
        body = await outage.gateway.execute(
            'mutation { createApp(name: "x") { app { id } } }', token=outage.admin_token
        )
    assert error_codes(body) == ["UNAVAILABLE"]
    assert body["errors"][0]["message"] == "The store is unavailable; retry later."
    assert "Traceback" not in str(body) and "pymongo" not in str(body).lower()
    # readiness, the refused app request and the GraphQL error: all counted as UNAVAILABLE
    metrics = (await outage.http.get("/metrics")).text
    assert 'profile_gateway_errors_total{code="UNAVAILABLE"} 3.0' in metrics

    outage.server.start()
    await outage.wait_ready()
    read = await outage.gateway.data(READ, {"id": "before"}, token=tenant.app_token)
    assert read["user"] == {"externalUserId": "before", "tags": ["acked"]}
    after = await outage.gateway.data(UPSERT, {"id": "after"}, token=tenant.app_token)
    assert after["upsertUser"]["userErrors"] == []
    assert (await outage.gateway.data(READ, {"id": "during"}, token=tenant.app_token))["user"] is None
