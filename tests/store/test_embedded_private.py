"""The embedded store is private: only its owner's processes can reach it or read its files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psutil
import pytest
from pymongo import AsyncMongoClient

from app.config import Settings
from app.local_secrets import ensure_local_secrets
from app.store.embedded import EmbeddedServer
from app.store.embedded_socket import StoreAlreadyRunning

NOBODY = 65534
# Connects to the socket as another local user would; prints what happened.
PROBE = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as error:
    print(type(error).__name__)
else:
    print("connected")
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def world_readable_parent() -> Iterator[Path]:
    # pytest's own temporary directories are 0700, which would hide the data dir's own
    # permissions from the test: this parent lets everyone in.
    parent = Path(tempfile.mkdtemp(prefix="pg-private-"))
    parent.chmod(0o755)
    yield parent
    subprocess.run(["rm", "-rf", str(parent)], check=True)


@pytest.fixture
def server(world_readable_parent: Path) -> Iterator[EmbeddedServer]:
    embedded = EmbeddedServer(world_readable_parent / "data", engine="sqlite")
    yield embedded
    embedded.stop()


def listening_tcp_ports() -> set[int]:
    connections = psutil.Process().net_connections(kind="inet")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


async def test_files_and_directory_are_owner_only(server: EmbeddedServer, world_readable_parent: Path) -> None:
    data_dir = world_readable_parent / "data"
    before = listening_tcp_ports()
    uri = server.start()
    assert listening_tcp_ports() == before  # no TCP port for any local process to find
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=3_000)
    try:
        await client.db.things.insert_one({"_id": 1})  # the owner reaches it
    finally:
        await client.close()
    ensure_local_secrets(Settings(data_dir=data_dir, mongodb_uri=None))
    assert mode(data_dir) == 0o700
    files = list(data_dir.iterdir())
    assert {f.name for f in files} >= {"profile-gateway.sqlite", "secrets.json", "store.sock"}
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_an_existing_loose_data_dir_and_database_are_tightened(world_readable_parent: Path) -> None:
    data_dir = world_readable_parent / "old"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    database = data_dir / "profile-gateway.sqlite"
    database.touch()
    database.chmod(0o644)
    embedded = EmbeddedServer(data_dir, engine="sqlite")
    embedded.start()
    try:
        assert mode(data_dir) == 0o700
        assert mode(database) == 0o600
    finally:
        embedded.stop()


def python_for_another_user() -> str | None:
    """An interpreter the unprivileged user may run (a Python under /root is not one)."""
    for python in (os.path.realpath(sys.executable), "/usr/bin/python3"):
        try:
            subprocess.run([python, "-I", "-c", "pass"], user=NOBODY, cwd="/", check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            continue
        return python
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a probe as another user")
def test_another_local_user_cannot_connect(server: EmbeddedServer, world_readable_parent: Path) -> None:
    python = python_for_another_user()
    if python is None:
        pytest.skip("no Python the unprivileged user may run")
    server.start()
    socket_path = world_readable_parent / "data" / "store.sock"

    def probe() -> str:
        run = subprocess.run(
            [python, "-I", "-c", PROBE, str(socket_path)], user=NOBODY, cwd="/", capture_output=True, text=True
        )
        return run.stdout.strip()

    assert probe() == "PermissionError"
    # The control: loosened permissions let the same probe in, so the refusal above came from them.
    (world_readable_parent / "data").chmod(0o755)
    socket_path.chmod(0o666)
    assert probe() == "connected"


def test_a_second_store_on_the_same_data_dir_is_refused(server: EmbeddedServer, world_readable_parent: Path) -> None:
    server.start()
    with pytest.raises(StoreAlreadyRunning):
        EmbeddedServer(world_readable_parent / "data", engine="sqlite").start()


def test_a_memory_store_listens_in_a_private_directory_of_its_own(world_readable_parent: Path) -> None:
    data_dir = world_readable_parent / "data"
    first, second = EmbeddedServer(data_dir, engine="memory"), EmbeddedServer(data_dir, engine="memory")
    try:
        uris = {first.start(), second.start()}  # nothing shared, so both may run
        assert len(uris) == 2
        for uri in uris:
            socket_dir = Path(unquote(urlsplit(uri).netloc)).parent
            assert mode(socket_dir) == 0o700 and socket_dir.stat().st_uid == os.geteuid()
    finally:
        first.stop()
        second.stop()
    assert not socket_dir.exists()  # removed with its socket
