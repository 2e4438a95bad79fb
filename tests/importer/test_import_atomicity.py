"""Import batches are units of work: an interruption at any write step, or a kill -9 of the
import process, then ``--resume`` leaves every row stored once with its CREATED event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from rich.console import Console

from app.config import Settings
from app.crypto import SecretBox
from app.importer.console import EXIT_INTERRUPTED, EXIT_STORE_UNAVAILABLE, run_command
from app.importer.run import Options, run_import
from app.local_secrets import ensure_local_secrets
from app.store.client import Store, open_store
from app.store.errors import StoreUnreachable
from tests.conftest import new_tenant
from tests.domain.test_write_atomicity import Steps, hooked
from tests.helpers import UNREACHABLE_URI, Gateway, collect_dropped_sockets
from tests.importer.test_import import _new_app

ROWS = 6
# Enough rows that a kill a moment after the first checkpoint lands mid-import however fast
# the store is: at 40 rows a batch, dozens of batches are still to come.
KILLED_IMPORT_ROWS = 1200


def _write_records(path: Path, count: int) -> None:
    lines = (
        json.dumps({"externalUserId": f"r-{i}", "emails": [f"r{i}@example.com"], "tags": ["imp"]}) for i in range(count)
    )
    path.write_text("\n".join(lines) + "\n")


async def _created_events(store: Store, app_id: str) -> dict[str, int]:
    """Per stored user: how many CREATED events it has."""
    counts = {user["_id"]: 0 async for user in store.users.find({"appId": app_id}, {"_id": 1})}
    async for event in store.history.find({"appId": app_id, "kind": "CREATED"}, {"userId": 1}):
        counts[event["userId"]] = counts.get(event["userId"], 0) + 1
    return counts


async def test_an_import_failing_at_any_write_step_resumes_to_complete_rows(
    tmp_path: Path, gateway: Gateway, admin_token: str, store: Store, box: SecretBox
) -> None:
    source = tmp_path / "users.ndjson"
    _write_records(source, ROWS)
    tenant = await new_tenant(gateway, admin_token, "import steps")
    with hooked(Steps()) as counting:
        await run_import(store, tenant.app_id, source, Options(batch_size=3), box=box)
    assert len(counting.seen) == 8  # per batch: the registry entries, the users, their history and change events

    for fail_at in range(1, len(counting.seen) + 1):
        tenant = await new_tenant(gateway, admin_token, "import steps")
        options = Options(batch_size=3, checkpoint=tmp_path / f"{fail_at}.checkpoint")
        with hooked(Steps(fail_at=fail_at)), pytest.raises(StoreUnreachable):
            await run_import(store, tenant.app_id, source, options, box=box)
        stored = await _created_events(store, tenant.app_id)
        assert len(stored) == (0 if fail_at <= 4 else 3)  # the first batch commits after its fourth step
        assert set(stored.values()) <= {1}, "a stored row without its CREATED event"

        options.resume = True
        summary = await run_import(store, tenant.app_id, source, options, box=box)
        assert summary.imported == ROWS
        stored = await _created_events(store, tenant.app_id)
        assert len(stored) == ROWS and set(stored.values()) == {1}


def test_an_import_killed_mid_batch_resumes_with_every_row_and_its_created_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app_id = asyncio.run(_new_app(data_dir))
    source = tmp_path / "users.ndjson"
    rows = KILLED_IMPORT_ROWS
    _write_records(source, rows)
    checkpoint = tmp_path / "users.ndjson.checkpoint"
    command = [sys.executable, "-m", "app.cli", "import", str(source), "--app-id", app_id, "--data-dir", str(data_dir)]
    process = subprocess.Popen([*command, "--batch-size", "40"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into a later batch
        assert process.poll() is None, "the import ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    done = json.loads(checkpoint.read_text())["line"]
    assert 0 < done < rows

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    async def created() -> dict[str, int]:
        settings = ensure_local_secrets(Settings(data_dir=data_dir, mongodb_uri=None)).settings
        store = open_store(settings)
        try:
            return await _created_events(store, app_id)
        finally:
            await store.close()

    stored = asyncio.run(created())
    assert len(stored) == rows
    assert set(stored.values()) == {1}


def test_an_unreachable_store_ends_the_import_with_the_resume_command(tmp_path: Path) -> None:
    source = tmp_path / "users.ndjson"
    _write_records(source, 3)
    settings = Settings(
        mongodb_uri=UNREACHABLE_URI,
        store_timeout_ms=300,
        master_key=SecretStr(Fernet.generate_key().decode()),
        admin_secret=SecretStr("x" * 48),
    )
    console = Console(record=True, width=200)
    try:
        code = run_command(settings, "app_x", source, Options(batch_size=2), console)
    finally:
        collect_dropped_sockets()  # its own loop has ended: the driver's dropped sockets go now
    output = console.export_text()
    assert code == EXIT_STORE_UNAVAILABLE
    assert "--resume" in output and "Traceback" not in output


def test_ctrl_c_ends_the_import_with_the_resume_command_and_no_traceback(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app_id = asyncio.run(_new_app(data_dir))
    source = tmp_path / "users.ndjson"
    _write_records(source, KILLED_IMPORT_ROWS)
    checkpoint = tmp_path / "users.ndjson.checkpoint"
    command = [sys.executable, "-m", "app.cli", "import", str(source), "--app-id", app_id, "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "--batch-size", "40"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, output
    assert "--resume" in output and "Traceback" not in output
