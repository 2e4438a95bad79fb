"""Slow and vanished clients against a real uvicorn server (loopback): trickled headers and bodies
are cut off by the server's timeouts, and a client that goes away is logged at info level."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn

from app.config import Settings
from app.http.slow_clients import uvicorn_options
from app.main import create_app

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
SLACK = 2.5  # the machine is shared: generous, but far below the 60 s a client held before


@pytest.fixture(scope="module")
async def server_port(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[int]:
    timed = settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("slow"),
            "header_timeout_seconds": HEADER_TIMEOUT,
            "body_timeout_seconds": BODY_TIMEOUT,
        }
    )
    config = uvicorn.Config(
        create_app(timed), host="127.0.0.1", port=0, log_config=None, lifespan="on", **uvicorn_options(timed)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    await task


async def test_twenty_trickling_header_connections_are_closed_by_the_server(server_port: int) -> None:
    async def watch(port: int) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\n")
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(1024), 0.1)
                except TimeoutError:
                    writer.write(b"X-Filler: x\r\n")  # one more header line, never the blank one
                    await writer.drain()
                    continue
                if not chunk:
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
        return time.perf_counter() - started

    async with asyncio.timeout(HEADER_TIMEOUT + SLACK + 5):
        held = await asyncio.gather(*(watch(server_port) for _ in range(20)))
    assert max(held) < HEADER_TIMEOUT + SLACK, held


def _partial_post(admin_token: str) -> bytes:
    """Headers of an authenticated POST that announce 1,000 bytes of body, and a few of them."""
    return (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\nAuthorization: Bearer " + admin_token.encode() + b'\r\n\r\n{"query": '
    )


async def test_a_trickled_body_gets_408(server_port: int, admin_token: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
    started = time.perf_counter()
    writer.write(_partial_post(admin_token))
    await writer.drain()
    async with asyncio.timeout(BODY_TIMEOUT + SLACK + 5):
        status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    assert time.perf_counter() - started < BODY_TIMEOUT + SLACK


async def test_an_ordinary_request_is_answered(server_port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(10):
        status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 200"), status_line


async def test_a_client_that_goes_away_is_logged_at_info_without_a_trace(
    server_port: int, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, writer = await asyncio.open_connection("127.0.0.1", server_port)
    writer.write(_partial_post(admin_token))
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await asyncio.sleep(BODY_TIMEOUT + 0.5)
    problems = [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]
    assert problems == [], [record.getMessage() for record in problems]
    assert any("disconnected" in record.getMessage() for record in caplog.records)
