"""`profile-gateway serve` with no MONGODB_URI starts on the embedded store; `token admin` mints a working token."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment() -> dict[str, str]:
    """The caller's environment without any gateway configuration: the embedded default."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != "MONGODB_URI" and not name.startswith("PROFILE_GATEWAY_")
    }


def _cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *arguments]


@dataclass
class Served:
    url: str
    data_dir: Path
    process: asyncio.subprocess.Process


async def _wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(START_TIMEOUT_SECONDS * 10):
            if process.returncode is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("serve did not become healthy")


async def _stop(process: asyncio.subprocess.Process) -> bytes:
    if process.returncode is None:
        process.terminate()
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT_SECONDS)
    return stderr


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = _free_port()
    data_dir = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        *_cli("serve", "--port", str(port), "--data-dir", str(data_dir)),
        cwd=ROOT,
        env=_environment(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process)
        yield Served(url, data_dir, process)
    finally:
        await _stop(process)


def _token(*arguments: str) -> str:
    result = subprocess.run(
        _cli("token", *arguments), cwd=ROOT, env=_environment(), capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


async def test_serve_starts_on_the_embedded_store(served: Served) -> None:
    secrets_file = served.data_dir / "secrets.json"
    assert secrets_file.exists()
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert set(json.loads(secrets_file.read_text())) == {"admin_secret", "master_key"}
    assert (served.data_dir / "profile-gateway.sqlite").exists()

    token = await asyncio.to_thread(_token, "admin", "--data-dir", str(served.data_dir))
    async with httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/readyz")).status_code == 200
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})
        assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
        response = await client.post(
            "/graphql",
            json={"query": 'mutation { createApp(name: "cli") { app { name } key { id secret } } }'},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        created = response.json()["data"]["createApp"]
        assert created["app"] == {"name": "cli"}

        # The tour of the README: an app token and a user token minted by the CLI.
        key = ["--key-id", created["key"]["id"], "--key-secret", created["key"]["secret"]]
        app_token = await asyncio.to_thread(_token, "app", *key)
        upsert = 'mutation { upsertUser(input: {externalUserId: "ada"}) { user { externalUserId } } }'
        response = await client.post(
            "/graphql", json={"query": upsert}, headers={"authorization": f"Bearer {app_token}"}
        )
        assert response.json() == {"data": {"upsertUser": {"user": {"externalUserId": "ada"}}}}
        user_token = await asyncio.to_thread(_token, "user", *key, "--sub", "ada")
        me = await client.post(
            "/graphql", json={"query": "{ me { externalUserId } }"}, headers={"authorization": f"Bearer {user_token}"}
        )
        assert me.json() == {"data": {"me": {"externalUserId": "ada"}}}

    stderr = (await _stop(served.process)).decode()
    # It says where the generated secrets are, on one line that can be copied.
    assert f"Generated an admin secret and a master key into {secrets_file}" in stderr
    assert f"profile-gateway token admin --data-dir {served.data_dir}" in stderr


def test_serve_reports_a_configuration_error_without_secrets(tmp_path: Path) -> None:
    environment = {
        **_environment(),
        "MONGODB_URI": "mongodb://gateway:db-password@127.0.0.1:9/",
        "PROFILE_GATEWAY_ADMIN_SECRET": "top-secret-" + "y" * 40,
    }
    result = subprocess.run(
        _cli("serve", "--data-dir", str(tmp_path)),
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PROFILE_GATEWAY_MASTER_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    assert "y" * 10 not in output and "db-password" not in output


def test_token_carries_the_audience_the_gateway_requires(tmp_path: Path) -> None:
    # With PROFILE_GATEWAY_JWT_AUDIENCE set the gateway refuses tokens without that aud,
    # so the tokens the CLI mints under the same configuration must carry it.
    from app.auth.tokens import verify

    environment = {**_environment(), "PROFILE_GATEWAY_JWT_AUDIENCE": "profile-gateway-prod"}

    def mint(*arguments: str) -> str:
        result = subprocess.run(
            _cli("token", *arguments), cwd=ROOT, env=environment, capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout.strip()

    # The data directory of a gateway that has started once: the CLI never creates its secrets.
    (tmp_path / "secrets.json").write_text(json.dumps({"admin_secret": "a" * 48, "master_key": "m" * 43 + "="}))
    admin = mint("admin", "--data-dir", str(tmp_path))
    admin_secret = json.loads((tmp_path / "secrets.json").read_text())["admin_secret"]
    claims = verify(admin, admin_secret, audience="profile-gateway-prod", leeway_seconds=0)
    assert claims["scope"] == "admin"

    key_secret = "k" * 48
    user = mint("user", "--key-id", "key_1", "--key-secret", key_secret, "--sub", "ada")
    claims = verify(user, key_secret, audience="profile-gateway-prod", leeway_seconds=0)
    assert (claims["scope"], claims["sub"], claims["aud"]) == ("user", "ada", "profile-gateway-prod")
