"""The embedded Mongo-compatible server (mongoeco) used when no MONGODB_URI is configured.

It runs on its own thread and event loop so that its storage work never stalls the
loop that serves HTTP requests (or as a process of its own: ``profile-gateway store``);
the gateway talks to it with the real driver, exactly as it talks to MongoDB.

It is private: it listens on a Unix socket inside the 0700 data directory (no TCP port
any local process could reach), and its SQLite files are created 0600.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from mongoeco.engines.memory import MemoryEngine

from app.store.embedded_engine import EmbeddedSQLiteEngine
from app.store.embedded_gate import DEFAULT_WAIT_SECONDS
from app.store.embedded_socket import UnixSocketProxyServer, socket_uri
from app.store.private_dir import (
    ensure_private_dir,
    ensure_private_file,
    private_socket_path,
    remove_socket_dir,
    socket_path_in,
)

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 15


class EmbeddedServer:
    """Start with :meth:`start` (returns the connection URI), stop with :meth:`stop`."""

    def __init__(
        self,
        data_dir: Path,
        engine: Literal["sqlite", "memory"] = "sqlite",
        transaction_wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self._data_dir = data_dir
        self._engine = engine
        # Fixed once, so that a restarted server is found again at the same address.
        self._socket_path: Path | None = None
        self._transaction_wait_seconds = transaction_wait_seconds
        self._ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def database_file(self) -> Path:
        return self._data_dir / "profile-gateway.sqlite"

    @property
    def uri(self) -> str:
        """The driver's connection string (the socket's path, percent-encoded)."""
        if self._socket_path is None:
            raise RuntimeError("embedded server not started")
        return socket_uri(self._socket_path)

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("embedded server already started")
        self._ready = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="embedded-store", daemon=True)
        self._thread.start()
        try:
            uri = self._ready.result(timeout=START_TIMEOUT_SECONDS)
        except BaseException:
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
            self._thread = None
            raise
        log.info("embedded store listening", extra={"uri": uri, "engine": self._engine})
        return uri

    def run_in_foreground(self, on_ready: Callable[[str], None]) -> None:
        """Serve on this thread until SIGTERM or SIGINT (``profile-gateway store``)."""
        self._ready = concurrent.futures.Future()

        def announce(ready: concurrent.futures.Future[str]) -> None:
            if ready.exception() is None:
                on_ready(ready.result())

        self._ready.add_done_callback(announce)

        async def serve_until_signalled() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._signalled)
            await self._serve()

        asyncio.run(serve_until_signalled())

    def _signalled(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        thread.join(timeout=START_TIMEOUT_SECONDS)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            else:
                log.exception("embedded store stopped with an error")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        ensure_private_dir(self._data_dir)
        if self._socket_path is None:
            # A memory store shares no file with another server on the same data dir, so it
            # gets a socket of its own (several in-process gateways, as in the tests).
            memory = self._engine == "memory"
            self._socket_path = private_socket_path() if memory else socket_path_in(self._data_dir)
        if self._engine == "sqlite":
            engine: EmbeddedSQLiteEngine | MemoryEngine = EmbeddedSQLiteEngine(
                str(ensure_private_file(self.database_file))
            )
        else:
            engine = MemoryEngine()
        proxy = UnixSocketProxyServer(
            engine=engine,
            socket_path=self._socket_path,
            mongodb_dialect="8.0",
            wait_seconds=self._transaction_wait_seconds,
        )
        await proxy.start()
        try:
            self._ready.set_result(proxy.uri)
            await self._stop_event.wait()
        finally:
            await proxy.close()
            remove_socket_dir(self._socket_path, self._data_dir)
