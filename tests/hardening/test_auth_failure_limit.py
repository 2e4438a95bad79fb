"""Failed authentications are limited per client address: 401s, then 429 before any store look-up."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.auth import tokens
from app.config import Settings
from app.main import create_app
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.hardening.test_edge import assert_json_error
from tests.helpers import Gateway, Tenant

BURST = 3  # failures an address may make in a row
ME = 'query { user(by: {externalUserId: "nobody"}) { id } }'


async def _gateway_app(settings: Settings, data_dir: Path, per_minute: int, log: CommandLog) -> Starlette:
    configured = settings.model_copy(
        update={"data_dir": data_dir, "auth_failure_limit_per_minute": per_minute, "auth_failure_burst": BURST}
    )
    return create_app(configured, listeners=[log])


@pytest.fixture(scope="module")
def commands() -> CommandLog:
    return CommandLog()


@pytest.fixture(scope="module")
async def limited_app(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, commands: CommandLog
) -> AsyncIterator[Starlette]:
    # One token a minute comes back: none during a test.
    application = await _gateway_app(settings, tmp_path_factory.mktemp("limited"), 1, commands)
    async with application.router.lifespan_context(application):
        yield application


@contextlib.asynccontextmanager
async def client_at(application: Starlette, host: str) -> AsyncIterator[Gateway]:
    transport = httpx.ASGITransport(app=application, client=(host, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield Gateway(client)


def unknown_key_token() -> str:
    # A well-formed token whose key id the gateway must look up to refuse.
    return tokens.mint(secrets.token_urlsafe(32), {"scope": "app"}, key_id=f"key_{secrets.token_hex(8)}")


async def tenant_of(application: Starlette, admin_token: str) -> Tenant:
    async with client_at(application, "10.0.0.1") as admin:
        return await new_tenant(admin, admin_token)


async def test_failed_authentications_turn_into_429_for_every_credential(
    limited_app: Starlette, admin_token: str, commands: CommandLog
) -> None:
    tenant = await tenant_of(limited_app, admin_token)
    async with client_at(limited_app, "192.0.2.10") as attacker:
        for _ in range(BURST):
            assert_json_error(await attacker.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")
        with commands.recording() as sent:
            refused = await attacker.post(ME, token=unknown_key_token())
        assert_json_error(refused, 429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert sum(sent.values()) == 0  # refused before the key look-up
        # Once limited, the address is refused whatever it sends, a valid token included.
        assert_json_error(await attacker.post(ME, token=tenant.app_token), 429, "RATE_LIMITED")
        metrics = (await attacker.client.get("/metrics")).text
        assert 'profile_gateway_rate_limited_total{limit="auth-failures"}' in metrics  # which limit, for operators


async def test_another_address_is_not_limited_by_one_that_is(limited_app: Starlette, admin_token: str) -> None:
    tenant = await tenant_of(limited_app, admin_token)
    async with client_at(limited_app, "192.0.2.20") as attacker, client_at(limited_app, "192.0.2.21") as neighbour:
        for _ in range(BURST + 1):
            await attacker.post(ME, token=unknown_key_token())
        assert_json_error(await attacker.post(ME, token=unknown_key_token()), 429, "RATE_LIMITED")
        assert (await neighbour.post(ME, token=tenant.app_token)).status_code == 200
        assert_json_error(await neighbour.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")


async def test_one_ipv6_host_cannot_rotate_its_address_past_the_limit(limited_app: Starlette, admin_token: str) -> None:
    # A host picks any address of its /64 at will (privacy addresses, a routed prefix): each
    # guess from a new one would otherwise start a bucket of its own.
    tenant = await tenant_of(limited_app, admin_token)
    for number in range(BURST):
        async with client_at(limited_app, f"2001:db8:aa:1::{number + 1:x}") as attacker:
            assert_json_error(await attacker.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")
    async with client_at(limited_app, "2001:db8:aa:1:ffff:1234:5678:9abc") as attacker:
        assert_json_error(await attacker.post(ME, token=unknown_key_token()), 429, "RATE_LIMITED")
    async with client_at(limited_app, "2001:db8:aa:2::1") as neighbour:  # the next /64: another network
        assert (await neighbour.post(ME, token=tenant.app_token)).status_code == 200


async def test_successful_authentications_do_not_count(limited_app: Starlette, admin_token: str) -> None:
    tenant = await tenant_of(limited_app, admin_token)
    async with client_at(limited_app, "192.0.2.30") as client:
        for _ in range(BURST * 2):
            assert (await client.post(ME, token=tenant.app_token)).status_code == 200
        assert_json_error(await client.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")


async def test_limit_zero_never_answers_429(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, admin_token: str
) -> None:
    application = await _gateway_app(settings, tmp_path_factory.mktemp("unlimited"), 0, CommandLog())
    async with application.router.lifespan_context(application), client_at(application, "192.0.2.40") as client:
        for _ in range(BURST * 3):
            assert_json_error(await client.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")
