"""The embedded store's listener: a Unix socket inside the private data directory.

mongoeco's wire server only listens on TCP, where any local process may connect and it
asks for no credentials. On a Unix socket, the file system decides who connects: the
socket sits in a 0700 directory and is itself 0600, so only the owner's processes reach
the store. PyMongo connects to it with a URI naming the percent-encoded socket path.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mongoeco.wire._lifecycle import finish_cleanup

from app.store.embedded_gate import TransactionGatedProxyServer
from app.store.private_dir import FILE_MODE


class StoreAlreadyRunning(RuntimeError):
    pass


def socket_uri(path: Path) -> str:
    return f"mongodb://{quote(str(path), safe='')}/?directConnection=true"


def is_served(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False  # a socket left behind by a process that is gone
    return True


class UnixSocketProxyServer(TransactionGatedProxyServer):
    """The transaction-gated wire server, listening on ``socket_path`` instead of TCP."""

    def __init__(self, *args: Any, socket_path: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.socket_path = socket_path

    @property
    def uri(self) -> str:
        return socket_uri(self.socket_path)

    async def start(self) -> Any:  # mirrors AsyncMongoEcoProxyServer.start (mongoeco 4.11) for a Unix socket
        async with self._lifecycle_lock:
            if self._server is not None:
                return None
            if is_served(self.socket_path):
                raise StoreAlreadyRunning(f"another store already listens on {self.socket_path}")
            try:
                if self._owns_client:
                    self._engine_connected = True
                    await self._client._engine.connect()
                self._server = await asyncio.start_unix_server(
                    self._accept_connection, path=str(self.socket_path), start_serving=False
                )
                self.socket_path.chmod(FILE_MODE)
                await self._server.start_serving()
            except BaseException as error:
                try:
                    await finish_cleanup(self._close_resources())
                except BaseException as cleanup_error:
                    error.add_note(f"store startup cleanup failed: {cleanup_error}")
                raise
            return None
