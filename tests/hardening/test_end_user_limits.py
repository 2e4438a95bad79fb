"""End users cannot spend their app's backend budget, and one address without credentials cannot
spend its app's end users' budget.

The attack: the app id is public (it ships in every copy of the mobile app). Before, every
request of an app drew on one bucket, so anyone holding the app id could send requests with
only X-App-Id (or with the session tokens those return) until the app's own backend got 429 for
every call. Now the app's backend (app tokens) and its end users have a bucket each, and
requests with only X-App-Id also spend a bucket of their client address.

Then: with many addresses (a botnet, or the 65,536 /64 networks of one IPv6 /48), first
registrations spent the end users' shared bucket, and every user already registered or signed
in got 429. Now requests with only X-App-Id spend a bucket of the app's own for them.

The next attack: one end user (a user token taken out of the app, or a session token) sending as
fast as it can spent the end users' shared bucket alone, and every other user of the app got 429.
Now each end user also spends a bucket of its own, kept in each process's memory, before the
shared one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.main import create_app
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant
from tests.identity_ops import SAVE, session_headers

ME = "query { me { id } }"
APP_BURST = 3  # tokens of each app bucket; no token comes back during a test
ANONYMOUS_BURST = 2
SHARED_BURST = 10  # the end users' shared bucket of the per-user tests
USER_BURST = 3  # one end user's own bucket


@contextlib.asynccontextmanager
async def _started(settings: Settings, data_dir: Path, **limits: float) -> AsyncIterator[Starlette]:
    """A gateway whose shared buckets take one token per request and refill too slowly to matter
    during a test, with ``limits`` on top."""
    update = {"data_dir": data_dir, "rate_limit_per_second": 0.01, "rate_limit_lease": 1, **limits}
    application = create_app(settings.model_copy(update=update))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def limited(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Starlette]:
    data_dir = tmp_path_factory.mktemp("end-users")
    limits = {"rate_limit_burst": APP_BURST, "anonymous_limit_per_minute": 1, "anonymous_burst": ANONYMOUS_BURST}
    async with _started(settings, data_dir, **limits) as application:
        yield application


@contextlib.asynccontextmanager
async def from_address(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as client:
        yield client


async def _tenant(app: Starlette, admin_token: str) -> Tenant:
    async with from_address(app, "10.9.0.1") as client:
        return await new_tenant(Gateway(client), admin_token)


async def _register(client: httpx.AsyncClient, tenant: Tenant, prid: str) -> httpx.Response:
    variables = {"input": {"pushRegistrationId": prid, "platform": "IOS"}}
    return await client.post(
        "/graphql", json={"query": SAVE, "variables": variables}, headers={"x-app-id": tenant.app_id}
    )


async def test_end_users_cannot_spend_the_backends_budget(limited: Starlette, admin_token: str) -> None:
    tenant = await _tenant(limited, admin_token)
    async with from_address(limited, "10.1.0.1") as client:
        registered = await _register(client, tenant, "budget")
        assert registered.status_code == 200, registered.text
        session = session_headers(registered.json()["data"]["saveInstallation"]["sessionToken"])
        for _ in range(APP_BURST):  # the end users' bucket
            assert (await Gateway(client).post(ME, headers=session)).status_code == 200
        spent = await Gateway(client).post(ME, headers=session)
        assert spent.status_code == 429 and spent.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "for this app" in spent.json()["errors"][0]["message"]
        # The app's backend still has its whole budget.
        for _ in range(APP_BURST):
            assert (await Gateway(client).post(ME, token=tenant.app_token)).status_code == 200
        assert (await Gateway(client).post(ME, token=tenant.app_token)).status_code == 429


async def test_one_address_without_credentials_cannot_spend_the_end_users_budget(
    limited: Starlette, admin_token: str
) -> None:
    tenant = await _tenant(limited, admin_token)
    async with from_address(limited, "10.2.0.1") as attacker:
        answers = await asyncio.gather(*(_register(attacker, tenant, f"flood-{n}") for n in range(12)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * ANONYMOUS_BURST + [429] * (12 - ANONYMOUS_BURST)
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert "without credentials from this address" in refused.json()["errors"][0]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    # Another device of the app registers: the flood spent its own address's bucket only.
    async with from_address(limited, "10.2.0.2") as device:
        assert (await _register(device, tenant, "a-real-device")).status_code == 200


async def test_one_ipv6_host_cannot_rotate_its_address_past_the_limit(limited: Starlette, admin_token: str) -> None:
    tenant = await _tenant(limited, admin_token)

    async def register_from(address: str, at: Tenant = tenant) -> int:
        async with from_address(limited, address) as device:
            return (await _register(device, at, f"rotating-{address}")).status_code

    addresses = [f"2001:db8:bb:7::{number + 1:x}" for number in range(12)]  # one /64, a new address each
    statuses = sorted(await asyncio.gather(*(register_from(address) for address in addresses)))
    assert statuses == [200] * ANONYMOUS_BURST + [429] * (12 - ANONYMOUS_BURST)
    assert await register_from("2001:db8:bb:8::1") == 200  # the next /64: another network
    # An IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) is that IPv4 address: one bucket
    # (another app, whose end users' bucket is still full).
    other = await _tenant(limited, admin_token)
    written = ["::ffff:10.2.7.1" if n % 2 else "10.2.7.1" for n in range(ANONYMOUS_BURST + 1)]
    assert [await register_from(address, other) for address in written] == [200] * ANONYMOUS_BURST + [429]


async def test_registrations_from_many_addresses_cannot_lock_out_the_apps_users(
    limited: Starlette, admin_token: str
) -> None:
    # A flood of first registrations from more addresses than any per-address limit holds
    # spends a bucket of the app's own; signed-in users and existing sessions keep theirs.
    tenant = await _tenant(limited, admin_token)
    async with from_address(limited, "10.5.0.1") as device:
        registered = await _register(device, tenant, "before-the-flood")
        session = session_headers(registered.json()["data"]["saveInstallation"]["sessionToken"])

    async def register_from(number: int) -> httpx.Response:
        async with from_address(limited, f"10.6.{number}.1") as client:
            return await _register(client, tenant, f"flood-from-{number}")

    flood = await asyncio.gather(*(register_from(number) for number in range(12)))
    statuses = sorted(answer.status_code for answer in flood)
    assert statuses == [200] * (APP_BURST - 1) + [429] * (12 - APP_BURST + 1)  # one went before
    refused = next(answer for answer in flood if answer.status_code == 429)
    assert "for this app" in refused.json()["errors"][0]["message"]
    async with from_address(limited, "10.5.0.2") as client:
        assert (await Gateway(client).post(ME, headers=session)).status_code == 200
        user = {"authorization": f"Bearer {tenant.user_token('signed-in')}"}
        assert (await client.post("/graphql", json={"query": ME}, headers=user)).status_code == 200
        assert (await Gateway(client).post(ME, token=tenant.app_token)).status_code == 200


async def test_limits_per_app_stay_apart(limited: Starlette, admin_token: str) -> None:
    first = await _tenant(limited, admin_token)
    second = await _tenant(limited, admin_token)
    async with from_address(limited, "10.3.0.1") as client:
        for number in range(ANONYMOUS_BURST):
            assert (await _register(client, first, f"apart-{number}")).status_code == 200
        assert (await _register(client, first, "apart-over")).status_code == 429
        assert (await _register(client, second, "apart-other-app")).status_code == 200


@pytest.fixture(scope="module")
async def per_user(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Starlette]:
    data_dir = tmp_path_factory.mktemp("per-user")
    limits = {"rate_limit_burst": SHARED_BURST, "end_user_limit_per_second": 0.01, "end_user_burst": USER_BURST}
    async with _started(settings, data_dir, **limits) as application:
        yield application


async def _flood(client: httpx.AsyncClient, headers: dict[str, str], requests: int) -> list[httpx.Response]:
    return await asyncio.gather(
        *(client.post("/graphql", json={"query": ME}, headers=headers) for _ in range(requests))
    )


async def test_one_user_token_cannot_spend_the_other_end_users_budget(per_user: Starlette, admin_token: str) -> None:
    tenant = await _tenant(per_user, admin_token)
    async with from_address(per_user, "10.4.0.1") as client:
        flood = await _flood(client, {"authorization": f"Bearer {tenant.user_token('greedy')}"}, 12)
        assert sorted(answer.status_code for answer in flood) == [200] * USER_BURST + [429] * (12 - USER_BURST)
        refused = next(answer for answer in flood if answer.status_code == 429)
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "from this user" in refused.json()["errors"][0]["message"]
        assert int(refused.headers["retry-after"]) >= 1
        # Another user of the app, from the same address, still gets through: the refused
        # requests spent nothing of the shared bucket.
        for number in range(SHARED_BURST - USER_BURST):
            other = await Gateway(client).post(ME, token=tenant.user_token(f"other-{number}"))
            assert other.status_code == 200, other.text
        assert (await Gateway(client).post(ME, token=tenant.user_token("one-too-many"))).status_code == 429


async def test_one_session_cannot_spend_the_other_end_users_budget(per_user: Starlette, admin_token: str) -> None:
    tenant = await _tenant(per_user, admin_token)
    async with from_address(per_user, "10.5.0.1") as client:
        first = await _register(client, tenant, "session-one")
        second = await _register(client, tenant, "session-two")
        tokens = [answer.json()["data"]["saveInstallation"]["sessionToken"] for answer in (first, second)]
        flood = await _flood(client, session_headers(tokens[0]), 12)
        assert sorted(answer.status_code for answer in flood) == [200] * USER_BURST + [429] * (12 - USER_BURST)
        assert (await Gateway(client).post(ME, headers=session_headers(tokens[1]))).status_code == 200
        # The app's backend has its own bucket and no per-user one.
        for _ in range(USER_BURST + 1):
            assert (await Gateway(client).post(ME, token=tenant.app_token)).status_code == 200


async def _refusals(app: Starlette) -> Counter[str]:
    """The gateway's count of 429s by the limit that refused them, read from /metrics."""
    async with from_address(app, "10.8.0.1") as client:
        text = (await client.get("/metrics")).text
    found = re.findall(r'^profile_gateway_rate_limited_total\{limit="([a-z-]+)"\} ([0-9.]+)$', text, re.MULTILINE)
    return Counter({limit: int(float(value)) for limit, value in found})


async def test_operators_see_which_limit_refused(
    limited: Starlette, per_user: Starlette, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    tenant, busy = await _tenant(limited, admin_token), await _tenant(per_user, admin_token)
    before, before_users = await _refusals(limited), await _refusals(per_user)
    caplog.set_level(logging.INFO, logger="app.http")
    async with from_address(limited, "10.7.0.1") as client:
        for number in range(ANONYMOUS_BURST + 1):  # the last: this address's bucket
            await _register(client, tenant, f"seen-{number}")
        for _ in range(APP_BURST + 1):  # the last: the backend's bucket
            await Gateway(client).post(ME, token=tenant.app_token)
    async with from_address(per_user, "10.7.0.2") as client:
        await _flood(client, {"authorization": f"Bearer {busy.user_token('seen')}"}, USER_BURST + 1)
    refused = (await _refusals(limited)) - before
    refused_users = (await _refusals(per_user)) - before_users
    assert refused == Counter({"address": 1, "backend": 1})
    assert refused_users == Counter({"user": 1})
    lines = [record for record in caplog.records if record.name == "app.http" and record.getMessage() == "request"]
    assert [vars(line)["limited_by"] for line in lines if vars(line)["status"] == 429] == [
        "address",
        "backend",
        "user",
    ]
