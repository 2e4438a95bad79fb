"""A second gateway configured as in production: tight rate limit, CORS, no explorers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.main import create_app
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant

STRICT_RATE = 0.5  # tokens per second: slow enough that no token comes back during a test
STRICT_BURST = 3
ALLOWED_ORIGIN = "https://console.example.com"


@pytest.fixture(scope="module")
async def strict_app(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Starlette]:
    strict = settings.model_copy(
        update={
            "environment": "production",
            "data_dir": tmp_path_factory.mktemp("strict"),
            "graphiql": False,
            "introspection": False,
            "rate_limit_per_second": STRICT_RATE,
            "rate_limit_burst": STRICT_BURST,
            "cors_origins": [ALLOWED_ORIGIN],
            "max_body_bytes": 4_096,
        }
    )
    application = create_app(strict)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def strict_http(strict_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as client:
        yield client


@pytest.fixture
async def strict_tenant(strict_http: httpx.AsyncClient, admin_token: str) -> Tenant:
    return await new_tenant(Gateway(strict_http), admin_token)
