"""Three gateway processes on one store: one rate limit, one persisted-query registry, one
idempotency record, one set of sessions.

Real processes on loopback ports: `profile-gateway store` runs the embedded store and the
gateways find it through the data directory (with MONGODB_URI set, they share that
database instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from app.auth import tokens
from app.graphql.persisted import sha256_hex
from app.store.store_address import running_store_uri
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant, error_codes
from tests.identity_ops import PERSONALIZE, register_anonymous, session_headers

START_TIMEOUT_SECONDS = 30
BURST = 12  # requests one app may make before the shared bucket is empty
ME = "query { me { id } }"
UPSERT = 'mutation { upsertUser(input: {externalUserId: "idem", tags: ["once"]}) { user { id } userErrors { code } } }'

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(secrets_env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    return {
        **base,
        **secrets_env,
        "PROFILE_GATEWAY_RATE_LIMIT_PER_SECOND": "0.01",  # no token comes back during the test
        "PROFILE_GATEWAY_RATE_LIMIT_BURST": str(BURST),
        "PROFILE_GATEWAY_EMBEDDED_ENGINE": "memory",
        "PROFILE_GATEWAY_LOG_FORMAT": "text",
    }


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _wait_ready(client: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(START_TIMEOUT_SECONDS * 10):
        if process.returncode is not None:
            raise AssertionError(f"a gateway exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get(f"{url}/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


@contextlib.asynccontextmanager
async def three_gateways(data_dir: Path) -> AsyncIterator[tuple[list[Gateway], str]]:
    """Three gateways sharing one store; yields them and an admin token."""
    processes: list[asyncio.subprocess.Process] = []
    mongodb_uri = os.environ.get("MONGODB_URI")
    admin_secret = secrets.token_urlsafe(48)
    if mongodb_uri is not None:
        shared = {
            "MONGODB_URI": mongodb_uri,
            "PROFILE_GATEWAY_DATABASE_NAME": f"profile_gateway_shared_{secrets.token_hex(4)}",
            "PROFILE_GATEWAY_ADMIN_SECRET": admin_secret,
            "PROFILE_GATEWAY_MASTER_KEY": Fernet.generate_key().decode(),
        }
    else:
        shared = {}
    environment = _environment(shared)
    clients: list[httpx.AsyncClient] = []
    try:
        if mongodb_uri is None:
            store = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.cli", "store", "--data-dir", str(data_dir), env=environment
            )
            processes.append(store)
            for _ in range(START_TIMEOUT_SECONDS * 10):
                if running_store_uri(data_dir) is not None or store.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            assert running_store_uri(data_dir) is not None, "the store process did not start"
            admin_secret = json.loads((data_dir / "secrets.json").read_text())["admin_secret"]
        urls = []
        for _ in range(3):
            port = _free_port()
            command = ["-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
            processes.append(await asyncio.create_subprocess_exec(sys.executable, *command, env=environment))
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes[-3:], strict=True):
            client = httpx.AsyncClient(base_url=url, timeout=20)
            clients.append(client)
            await _wait_ready(client, url, process)
        yield [Gateway(client) for client in clients], tokens.mint(admin_secret, {"scope": "admin"})
    finally:
        for client in clients:
            await client.aclose()
        for process in reversed(processes):
            await _stop(process)


async def _apq(gateway: Gateway, token: str, query: str | None, digest: str) -> httpx.Response:
    body: dict[str, object] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    return await gateway.client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})


async def _shares_persisted_queries(gateways: list[Gateway], tenant: Tenant) -> None:
    query = f"query Shared{secrets.token_hex(3)} {{ users(first: 1) {{ nodes {{ id }} }} }}"
    digest = sha256_hex(query)
    unknown = await _apq(gateways[2], tenant.app_token, None, digest)
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert (await _apq(gateways[0], tenant.app_token, query, digest)).json()["data"] is not None
    by_hash = await _apq(gateways[1], tenant.app_token, None, digest)
    assert by_hash.json() == {"data": {"users": {"nodes": []}}}


async def _shares_idempotency(gateways: list[Gateway], tenant: Tenant) -> None:
    headers = {"idempotency-key": f"order-{secrets.token_hex(4)}"}
    first = await gateways[0].post(UPSERT, token=tenant.app_token, headers=headers)
    again = await gateways[2].post(UPSERT, token=tenant.app_token, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()


async def _shares_sessions(gateways: list[Gateway], tenant: Tenant) -> None:
    prid = f"device-{secrets.token_hex(3)}"
    _, session = await register_anonymous(gateways[0], tenant, prid)
    for gateway in gateways:
        assert (await gateway.post(ME, headers=session_headers(session))).status_code == 200
    # Personalizing the installation voids the anonymous session, wherever it is used next.
    voided = await gateways[1].data(
        PERSONALIZE, {"prid": prid, "identity": {"externalUserId": "known-1"}}, token=tenant.app_token
    )
    assert voided["personalize"]["userErrors"] == []
    for gateway in gateways:
        assert (await gateway.post(ME, headers=session_headers(session))).status_code == 401


async def _shares_one_rate_limit(gateways: list[Gateway], tenant: Tenant) -> None:
    statuses = []
    for index in range(BURST + 1):
        response = await gateways[index % 3].post("query { users(first: 1) { nodes { id } } }", token=tenant.app_token)
        statuses.append(response.status_code)
    # Three in-process buckets would have allowed 3 x BURST; the shared one allows BURST.
    assert statuses == [200] * BURST + [429]
    for gateway in gateways:
        assert (await gateway.post(ME, token=tenant.app_token)).status_code == 429


async def test_three_gateway_processes_share_one_store(tmp_path: Path) -> None:
    async with asyncio.timeout(90), three_gateways(tmp_path / "data") as (gateways, admin_token):
        working = await new_tenant(gateways[0], admin_token, "working")
        await _shares_persisted_queries(gateways, working)
        await _shares_idempotency(gateways, working)
        await _shares_sessions(gateways, working)
        limited = await new_tenant(gateways[1], admin_token, "limited")
        await _shares_one_rate_limit(gateways, limited)
