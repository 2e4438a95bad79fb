"""The CLI as people use it: --version, the commands `serve` prints, `token admin` in the wrong
directory, `apps list`."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import httpx

from tests.test_cli import ROOT, _cli, _environment, _free_port, _stop, _wait_healthy


def _run(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cli(*arguments), cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=60)


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"profile-gateway {version('profile-gateway')}"


def test_token_admin_refuses_a_directory_without_a_gateway_and_says_where_it_looked(tmp_path: Path) -> None:
    result = _run("token", "admin", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""  # no token that the gateway would reject
    assert f"looked for {tmp_path / 'data' / 'secrets.json'}" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing created


def test_apps_list_refuses_a_directory_without_a_gateway(tmp_path: Path) -> None:
    result = _run("apps", "list", "--data-dir", str(tmp_path / "elsewhere"))
    assert result.returncode == 2
    assert f"looked for {tmp_path / 'elsewhere' / 'secrets.json'}" in result.stderr
    assert not (tmp_path / "elsewhere").exists()


async def test_the_printed_commands_work_as_printed_and_apps_list_finds_the_app(tmp_path: Path) -> None:
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
        # The lines come before uvicorn starts; read them while the server runs.
        assert process.stderr is not None
        printed = ""
        while "Admin token" not in printed:
            printed += (await asyncio.wait_for(process.stderr.readline(), timeout=10)).decode()
        # The venv's script, runnable from the directory serve was started in.
        command = re.search(r"Admin token: (.+?)   \(", printed)
        assert command is not None and command.group(1).startswith(".venv/bin/profile-gateway token admin")
        assert f"GraphiQL: http://localhost:{port}/graphql" in printed
        assert "serve --port 8080" in printed
        minted = await asyncio.to_thread(
            subprocess.run, command.group(1), shell=True, cwd=ROOT, env=_environment(), capture_output=True, text=True
        )
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post(
                "/graphql",
                json={"query": 'mutation { createApp(name: "Listed") { app { id } key { id secret } } }'},
                headers={"authorization": f"Bearer {minted.stdout.strip()}"},
            )
            created = response.json()["data"]["createApp"]
            # An anonymous install: a lead that `leads idle` counts once it has been idle.
            install = (
                'mutation { saveInstallation(input: {pushRegistrationId: "d-1", platform: IOS}) { sessionToken } }'
            )
            registered = await client.post(
                "/graphql", json={"query": install}, headers={"x-app-id": created["app"]["id"]}
            )
            assert registered.json()["data"]["saveInstallation"]["sessionToken"]
    finally:
        await _stop(process)

    result = await asyncio.to_thread(_run, "apps", "list", "--json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(app["id"], app["name"], app["keyIds"]) for app in listed] == [
        (created["app"]["id"], "Listed", [created["key"]["id"]])
    ]
    assert created["key"]["secret"] not in result.stdout
    # The plain listing keeps whole ids, whatever the terminal's width: they are there to be copied.
    plain = await asyncio.to_thread(_run, "apps", "list", "--data-dir", str(data_dir))
    assert plain.stdout.startswith(f"{created['app']['id']}  Listed  (created ")
    assert plain.stdout.rstrip().endswith(f"keys: {created['key']['id']}")
    # What a lead retention would erase, read only: the lead registered a moment ago is not idle.
    idle = await asyncio.to_thread(_run, "leads", "idle", "--days", "1", "--json", "--data-dir", str(data_dir))
    assert idle.returncode == 0, idle.stderr
    assert [json.loads(line) for line in idle.stdout.splitlines()] == [
        {"appId": created["app"]["id"], "retentionDays": 1, "idleLeads": 0, "users": 1}
    ]
    # Without --days: each app's own retention, else the gateway's (off by default: kept, not read).
    kept = await asyncio.to_thread(_run, "leads", "idle", "--data-dir", str(data_dir))
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith(f"{created['app']['id']}  keeps its anonymous leads"), kept.stdout
