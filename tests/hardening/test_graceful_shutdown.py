"""Graceful shutdown: a request in flight when the server is told to stop still gets its answer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette

from tests.helpers import Tenant

QUERY = b'{"query": "{ user(by: {externalUserId: \\"nobody\\"}) { id } }"}'


async def test_in_flight_request_finishes_after_shutdown_starts(app: Starlette, tenant: Tenant) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The same uvicorn setting `profile-gateway serve` passes (settings.shutdown_grace_seconds).
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=5))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.02)
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield QUERY[:10]
        await release.wait()  # the request is in flight until the rest arrives
        yield QUERY[10:]

    headers = {"authorization": f"Bearer {tenant.app_token}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        request = asyncio.create_task(client.post("/graphql", content=slow_body(), headers=headers))
        async with asyncio.timeout(10):
            while not server.server_state.connections:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        server.should_exit = True  # what SIGTERM does
        await asyncio.sleep(0.3)
        assert not serving.done()  # still draining
        release.set()
        response = await request
    assert response.status_code == 200
    assert response.json() == {"data": {"user": None}}
    await serving
    sock.close()
