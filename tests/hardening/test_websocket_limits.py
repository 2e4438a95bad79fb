"""The websocket side of /graphql spends the same budgets as HTTP: failed authentications per
client address (one limit for both paths) and the app's request rate (one token per subscribe).

A real server on 127.0.0.1; each test's client speaks from a loopback address of its own, so
the per-address limit of one test does not reach another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection

from app.config import Settings
from app.http.auth_failure_limit import ADDRESS_LIMITED
from app.http.subscription_protocol import USER_LIMITED
from app.main import create_app
from tests.commands import CommandLog
from tests.hardening.test_auth_failure_limit import BURST, ME, tenant_of, unknown_key_token
from tests.hardening.test_edge import assert_json_error
from tests.helpers import Gateway, Tenant
from tests.serving import served_on_loopback

RATE_BURST = 3  # requests an app may send at once; no token comes back during a test
USER_BURST = 2  # requests one end user may send at once
APP_PLACES = 3  # open connections of an app's end users (and as many for its backend)
USER_PLACES = 2  # open connections of one end user
PROBE_SECONDS = 5.0  # generous on a shared machine: without a bound the probe would wait on the handshakes
INIT_TIMEOUT = 1.0
WATCH = "subscription { userChanges { type } }"


@pytest.fixture(scope="module")
def commands() -> CommandLog:
    return CommandLog()


@pytest.fixture(scope="module")
async def limited_app(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, commands: CommandLog
) -> AsyncIterator[Starlette]:
    configured = settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("ws-limits"),
            "auth_failure_limit_per_minute": 1,
            "auth_failure_burst": BURST,
            "rate_limit_per_second": 0.01,
            "rate_limit_burst": RATE_BURST,
            "rate_limit_lease": 1,
            "end_user_limit_per_second": 0.01,
            "end_user_burst": USER_BURST,
            "subscription_init_timeout_seconds": INIT_TIMEOUT,
            "subscription_max_connections_per_app": APP_PLACES,
            "subscription_max_connections_per_user": USER_PLACES,
        }
    )
    application = create_app(configured, listeners=[commands])
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def base_url(limited_app: Starlette) -> AsyncIterator[str]:
    async with served_on_loopback(limited_app) as port:
        yield f"127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def http_from(base_url: str, address: str) -> AsyncIterator[Gateway]:
    """An HTTP client over loopback whose requests come from ``address``."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{base_url}") as client:
        yield Gateway(client)


async def connect_from(base_url: str, address: str, params: dict[str, str]) -> ClientConnection:
    socket = await websockets.connect(
        f"ws://{base_url}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        local_addr=(address, 0),
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": params}))
    return socket


async def receive(socket: ClientConnection, seconds: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), seconds))
    return message


async def refusal(socket: ClientConnection) -> tuple[int, str]:
    """The close code and reason of a socket the gateway closes instead of acknowledging."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(socket)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_bad_connection_inits_limit_the_address_for_http_too(
    limited_app: Starlette, base_url: str, admin_token: str, commands: CommandLog
) -> None:
    tenant = await tenant_of(limited_app, admin_token)
    attacker = "127.0.0.2"
    for _ in range(BURST):
        code, _ = await refusal(await connect_from(base_url, attacker, bearer(unknown_key_token())))
        assert code == 4403
    with commands.recording() as sent:
        code, reason = await refusal(await connect_from(base_url, attacker, bearer(unknown_key_token())))
    assert (code, reason) == (4403, ADDRESS_LIMITED)
    assert sum(sent.values()) == 0  # refused before the key look-up
    # A valid credential from the limited address is refused too, on both paths.
    code, reason = await refusal(await connect_from(base_url, attacker, bearer(tenant.app_token)))
    assert (code, reason) == (4403, ADDRESS_LIMITED)
    async with http_from(base_url, attacker) as http:
        assert_json_error(await http.post(ME, token=tenant.app_token), 429, "RATE_LIMITED")


async def test_failed_http_authentications_limit_the_websocket_too(
    limited_app: Starlette, base_url: str, admin_token: str, commands: CommandLog
) -> None:
    tenant = await tenant_of(limited_app, admin_token)
    attacker = "127.0.0.3"
    async with http_from(base_url, attacker) as http:
        for _ in range(BURST):
            assert_json_error(await http.post(ME, token=unknown_key_token()), 401, "UNAUTHENTICATED")
    with commands.recording() as sent:
        code, reason = await refusal(await connect_from(base_url, attacker, bearer(tenant.app_token)))
    assert (code, reason) == (4403, ADDRESS_LIMITED)
    assert sum(sent.values()) == 0


async def test_a_missing_credential_counts_as_a_failure(base_url: str) -> None:
    attacker = "127.0.0.4"
    for _ in range(BURST):
        code, _ = await refusal(await connect_from(base_url, attacker, {}))
        assert code == 4403
    code, reason = await refusal(await connect_from(base_url, attacker, {}))
    assert (code, reason) == (4403, ADDRESS_LIMITED)


async def test_every_subscribe_spends_the_apps_rate(limited_app: Starlette, base_url: str, admin_token: str) -> None:
    tenant: Tenant = await tenant_of(limited_app, admin_token)
    socket = await connect_from(base_url, "127.0.0.5", bearer(tenant.app_token))
    try:
        assert (await receive(socket))["type"] == "connection_ack"
        for number in range(RATE_BURST + 1):
            payload = {"query": WATCH}
            await socket.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
        answers: dict[str, list[dict[str, Any]]] = {}
        while len(answers.get(str(RATE_BURST), [])) == 0:
            message = await receive(socket)
            answers.setdefault(message["id"], []).append(message)
        refused = answers[str(RATE_BURST)][0]
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert refused["payload"][0]["extensions"]["retryAfter"] >= 1
        # The subscriptions spent the budget HTTP requests of the app draw on.
        async with http_from(base_url, "127.0.0.6") as http:
            assert_json_error(await http.post(ME, token=tenant.app_token), 429, "RATE_LIMITED")
    finally:
        await socket.close()


async def test_one_end_users_subscribes_cannot_spend_the_other_end_users_budget(
    limited_app: Starlette, base_url: str, admin_token: str
) -> None:
    tenant: Tenant = await tenant_of(limited_app, admin_token)
    socket = await connect_from(base_url, "127.0.0.9", bearer(tenant.user_token("greedy")))
    try:
        assert (await receive(socket))["type"] == "connection_ack"
        for number in range(RATE_BURST):
            payload = {"query": WATCH}
            await socket.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
        answers: dict[str, list[dict[str, Any]]] = {}
        last = str(RATE_BURST - 1)
        while len(answers.get(last, [])) == 0:
            message = await receive(socket)
            answers.setdefault(message["id"], []).append(message)
        refused = answers[last][0]
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["message"] == USER_LIMITED
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert await refusals_counted(base_url, "user") >= 1
        # The end users' shared bucket kept a token for another user.
        async with http_from(base_url, "127.0.0.10") as http:
            assert (await http.post(ME, token=tenant.user_token("patient"))).status_code == 200
    finally:
        await socket.close()


async def test_a_query_answers_while_bad_handshakes_pour_in(
    limited_app: Starlette, base_url: str, admin_token: str
) -> None:
    tenant = await tenant_of(limited_app, admin_token)

    async def bad_handshake() -> int:
        code, _ = await refusal(await connect_from(base_url, "127.0.0.7", bearer(unknown_key_token())))
        return code

    async def probe() -> tuple[int, float]:
        await asyncio.sleep(0.05)  # the handshakes are under way
        started = time.monotonic()
        async with http_from(base_url, "127.0.0.8") as http:
            response = await http.post(ME, token=tenant.app_token)
        return response.status_code, time.monotonic() - started

    handshakes = asyncio.gather(*(bad_handshake() for _ in range(50)))
    status, seconds = await probe()
    codes = await handshakes
    assert codes == [4403] * 50
    assert status == 200
    assert seconds < PROBE_SECONDS


async def test_a_socket_without_connection_init_is_closed(base_url: str) -> None:
    socket = await websockets.connect(
        f"ws://{base_url}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    )
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(socket, INIT_TIMEOUT + 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
    assert time.monotonic() - started < INIT_TIMEOUT + 2


@pytest.mark.parametrize(
    "query",
    [
        "query { users(first: 1) { totalCount } }",
        'mutation { upsertUser(input: {externalUserId: "x"}) { user { id } } }',
        "subscription S { userChanges { type } } query Q { users(first: 1) { totalCount } }",
    ],
)
async def test_queries_and_mutations_are_refused_over_the_socket(
    limited_app: Starlette, base_url: str, admin_token: str, commands: CommandLog, query: str
) -> None:
    # Over HTTP they pass the persisted-query allow-list and Idempotency-Key handling.
    tenant = await tenant_of(limited_app, admin_token)
    socket = await connect_from(base_url, "127.0.0.9", bearer(tenant.app_token))
    try:
        assert (await receive(socket))["type"] == "connection_ack"
        payload = {"query": query, "operationName": "Q" if " Q " in query else None}
        with commands.recording() as sent:
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            refused = await receive(socket)
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert set(sent) <= {"findAndModify rate_limits"}  # nothing was read or written
    finally:
        await socket.close()


@contextlib.asynccontextmanager
async def opened(base_url: str, address: str, *tokens: str) -> AsyncIterator[list[ClientConnection]]:
    """A connection per token, all at once, each acknowledged or refused; all closed after."""
    sockets = await asyncio.gather(*(connect_from(base_url, address, bearer(token)) for token in tokens))
    try:
        yield list(sockets)
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))


async def outcome(socket: ClientConnection) -> str:
    """``ack``, or ``refused`` when the gateway closed the socket with 4403 instead."""
    try:
        return "ack" if (await receive(socket))["type"] == "connection_ack" else "other"
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4403
        return "refused"


async def refusals_counted(base_url: str, limit: str) -> int:
    """The gateway's count of refusals by ``limit`` so far, from /metrics."""
    async with http_from(base_url, "127.0.0.30") as http:
        text = (await http.client.get("/metrics")).text
    found = re.search(rf'^profile_gateway_rate_limited_total\{{limit="{limit}"\}} ([0-9.]+)$', text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def test_one_end_user_cannot_take_every_connection_of_the_app(
    limited_app: Starlette, base_url: str, admin_token: str
) -> None:
    tenant: Tenant = await tenant_of(limited_app, admin_token)
    greedy = tenant.user_token("greedy-sockets")
    counted = await refusals_counted(base_url, "connections-user")
    async with opened(base_url, "127.0.0.11", *[greedy] * 6) as sockets:
        outcomes = sorted([await outcome(socket) for socket in sockets])
        assert outcomes == ["ack"] * USER_PLACES + ["refused"] * (6 - USER_PLACES)
        assert await refusals_counted(base_url, "connections-user") == counted + 6 - USER_PLACES
        async with opened(base_url, "127.0.0.12", tenant.user_token("another-user")) as [other]:
            assert await outcome(other) == "ack"


async def test_end_users_cannot_take_the_backends_connections(
    limited_app: Starlette, base_url: str, admin_token: str
) -> None:
    tenant: Tenant = await tenant_of(limited_app, admin_token)
    users = [tenant.user_token(f"crowd-{number}") for number in range(APP_PLACES + 2)]
    counted = await refusals_counted(base_url, "connections-app")
    async with opened(base_url, "127.0.0.13", *users) as sockets:
        outcomes = sorted([await outcome(socket) for socket in sockets])
        assert outcomes == ["ack"] * APP_PLACES + ["refused"] * 2
        assert await refusals_counted(base_url, "connections-app") == counted + 2
        async with opened(base_url, "127.0.0.14", tenant.app_token) as [backend]:
            assert await outcome(backend) == "ack"
    # Closed connections give their places back.
    async with opened(base_url, "127.0.0.13", *users[:APP_PLACES]) as sockets:
        assert [await outcome(socket) for socket in sockets] == ["ack"] * APP_PLACES
