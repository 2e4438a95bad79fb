"""One gateway per test session (embedded store, or MONGODB_URI when set); one fresh app per test.

Apps isolate everything, so tests need no clean-up between them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from starlette.applications import Starlette

from app.auth import tokens
from app.config import Settings
from app.crypto import SecretBox
from app.main import Runtime, create_app
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

CREATE_APP = """
mutation($name: String!) {
  createApp(name: $name) { app { id name } key { id secret } userErrors { code message field } }
}
"""


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    mongodb_uri = os.environ.get("MONGODB_URI")
    return Settings(
        mongodb_uri=mongodb_uri,
        # A database of its own per run, so a real MongoDB keeps nothing between runs.
        database_name=f"profile_gateway_test_{secrets.token_hex(4)}",
        data_dir=Path(tmp_path_factory.mktemp("data")),
        # The memory engine by default; TEST_EMBEDDED_ENGINE=sqlite runs the suite on the
        # gateway's default engine (app/store/embedded_engine.py), as the CI workflow does.
        embedded_engine="sqlite" if os.environ.get("TEST_EMBEDDED_ENGINE") == "sqlite" else "memory",
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
        master_key=SecretStr(Fernet.generate_key().decode()),
        # Every test shares one client address here; tests/hardening/test_auth_failure_limit.py covers it.
        auth_failure_limit_per_minute=0,
        # Webhook tests run dispatchers of their own (tests/events), with short retry delays.
        webhook_dispatcher=False,
    )


@pytest.fixture(scope="session")
def command_log() -> CommandLog:
    return CommandLog()


@pytest.fixture(scope="session")
async def app(settings: Settings, command_log: CommandLog) -> AsyncIterator[Starlette]:
    application = create_app(settings, listeners=[command_log])
    async with application.router.lifespan_context(application):
        yield application
        if settings.mongodb_uri is not None:
            runtime: Runtime = application.state.runtime
            await runtime.store.client.drop_database(settings.database_name)


@pytest.fixture(scope="session")
def store(app: Starlette) -> Store:
    runtime: Runtime = app.state.runtime
    return runtime.store


@pytest.fixture(scope="session")
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


@pytest.fixture(scope="session")
def gateway(http: httpx.AsyncClient) -> Gateway:
    return Gateway(http)


@pytest.fixture(scope="session")
def box(settings: Settings) -> SecretBox:
    """The secret box the gateway under test encrypts with."""
    assert settings.master_key is not None
    return SecretBox(settings.master_key.get_secret_value())


@pytest.fixture(scope="session")
def admin_token(settings: Settings) -> str:
    assert settings.admin_secret is not None
    return tokens.mint(settings.admin_secret.get_secret_value(), {"scope": "admin"})


async def new_tenant(gateway: Gateway, admin_token: str, name: str = "test app") -> Tenant:
    data = await gateway.data(CREATE_APP, {"name": name}, token=admin_token)
    payload = data["createApp"]
    assert payload["userErrors"] == []
    return Tenant(payload["app"]["id"], payload["key"]["id"], payload["key"]["secret"])


@pytest.fixture
async def tenant(gateway: Gateway, admin_token: str) -> Tenant:
    return await new_tenant(gateway, admin_token)


@pytest.fixture
async def other_tenant(gateway: Gateway, admin_token: str) -> Tenant:
    return await new_tenant(gateway, admin_token, "other app")


@pytest.fixture
def app_token(tenant: Tenant) -> str:
    return tenant.app_token
