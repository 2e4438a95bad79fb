"""userChanges over graphql-transport-ws, with a real server and a real websocket client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection

from app.config import Settings
from app.main import create_app
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant
from tests.identity_ops import UPSERT, personalize, register_anonymous
from tests.serving import served_on_loopback

ADD_TAG = "mutation($by: UserRef!, $t: String!) { addTags(by: $by, tags: [$t]) { userErrors { code } } }"
WATCH = "subscription($by: UserRef) { userChanges(by: $by) { type user { externalUserId tags } } }"
BULK = "mutation($r: [UpsertUserInput!]!) { bulkUpsertUsers(records: $r) { failed } }"


@dataclass(frozen=True)
class Fresh:
    app: Starlette
    gateway: Gateway
    ws_url: str
    commands: CommandLog


@pytest.fixture(scope="module")
async def ws_url(app: Starlette) -> AsyncIterator[str]:
    """The test app served by uvicorn on 127.0.0.1 (its lifespan already runs)."""
    async with served_on_loopback(app) as port:
        yield f"ws://127.0.0.1:{port}/graphql"


async def connect(url: str, params: dict[str, str]) -> ClientConnection:
    socket = await websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")])
    await socket.send(json.dumps({"type": "connection_init", "payload": params}))
    return socket


async def receive(socket: ClientConnection, seconds: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), seconds))
    return message


async def subscribe(socket: ClientConnection, variables: dict[str, Any] | None = None) -> None:
    assert (await receive(socket))["type"] == "connection_ack"
    payload = {"query": WATCH, "variables": variables or {}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    await asyncio.sleep(0.3)  # the subscription starts reading from "now"


async def subscribe_all_it_may(socket: ClientConnection, count: int) -> None:
    """``count`` subscriptions to the caller's own profile on one connection."""
    assert (await receive(socket))["type"] == "connection_ack"
    for number in range(count):
        payload = {"query": WATCH, "variables": {}}
        await socket.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
    await asyncio.sleep(0.3)  # the subscriptions start reading from "now"


@contextlib.asynccontextmanager
async def connected(url: str, *params: dict[str, str]) -> AsyncIterator[list[ClientConnection]]:
    """One connection per ``params``, all closed at the end."""
    sockets = [await connect(url, each) for each in params]
    try:
        yield sockets
    finally:
        for socket in sockets:
            await socket.close()


async def assert_one_counter_look_per_poll(app: Starlette, command_log: CommandLog, app_id: str) -> None:
    """For a second of quiet, the process's subscriptions to this app looked at its counter
    once per poll interval between them, and read no outbox. Only this app's reads count: a
    subscription of an earlier test that the server has not yet seen closed may still poll
    its own app (seen once, on a loaded host: 7 counter reads in the second)."""
    with command_log.capturing() as commands:
        await asyncio.sleep(1.0)
    mine = Counter(
        f"find {command['find']}" for command in commands if "find" in command and app_id in repr(command.get("filter"))
    )
    polls = 1.0 / (app.state.runtime.settings.subscription_poll_ms / 1000)
    assert mine["find outbox"] == 0, mine
    assert 1 <= mine["find outbox_counters"] <= polls + 1, mine


async def test_a_user_token_sees_its_own_changes_only(gateway: Gateway, tenant: Tenant, ws_url: str) -> None:
    for name in ("alice", "bob"):
        await gateway.data(UPSERT, {"input": {"externalUserId": name}}, token=tenant.app_token)
    socket = await connect(ws_url, {"Authorization": f"Bearer {tenant.user_token('alice')}"})
    try:
        await subscribe(socket)
        await gateway.data(ADD_TAG, {"by": {"externalUserId": "bob"}, "t": "other"}, token=tenant.app_token)
        await gateway.data(ADD_TAG, {"by": {"externalUserId": "alice"}, "t": "vip"}, token=tenant.app_token)
        message = await receive(socket)
        assert message["type"] == "next", message
        change = message["payload"]["data"]["userChanges"]
        assert change == {"type": "user.updated", "user": {"externalUserId": "alice", "tags": ["vip"]}}
    finally:
        await socket.close()


async def test_an_app_token_must_name_the_user(gateway: Gateway, tenant: Tenant, ws_url: str) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    socket = await connect(ws_url, {"Authorization": f"Bearer {tenant.app_token}"})
    try:
        await subscribe(socket)
        message = await receive(socket)
        assert message["type"] == "next" and message["payload"]["errors"], message
        assert message["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        await socket.send(
            json.dumps(
                {
                    "id": "2",
                    "type": "subscribe",
                    "payload": {"query": WATCH, "variables": {"by": {"externalUserId": "alice"}}},
                }
            )
        )
        await asyncio.sleep(0.3)
        await gateway.data(ADD_TAG, {"by": {"externalUserId": "alice"}, "t": "x"}, token=tenant.app_token)
        message = await receive(socket)
        while message["id"] == "1":  # the refused subscription's completion
            assert message["type"] == "complete"
            message = await receive(socket)
        assert message["id"] == "2" and message["payload"]["data"]["userChanges"]["type"] == "user.updated"
    finally:
        await socket.close()


async def test_bad_credentials_are_refused_in_connection_init(tenant: Tenant, ws_url: str) -> None:
    socket = await connect(ws_url, {"Authorization": "Bearer not-a-token"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(socket)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_session_subscription_ends_when_the_session_is_voided(
    gateway: Gateway, tenant: Tenant, ws_url: str
) -> None:
    _, session_token = await register_anonymous(gateway, tenant, "phone")
    socket = await connect(ws_url, {"x-session-token": session_token})
    try:
        await subscribe(socket)
        # Personalizing identifies the user: its anonymous session stops being valid.
        await personalize(gateway, tenant, "phone", {"externalUserId": "carol"})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for _ in range(10):
                await receive(socket)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        await socket.close()


async def test_subscriptions_per_connection_are_limited(
    app: Starlette, gateway: Gateway, tenant: Tenant, ws_url: str
) -> None:
    settings = app.state.runtime.settings
    limit = settings.subscription_max_per_connection
    settings.subscription_max_per_connection = 1
    await gateway.data(UPSERT, {"input": {"externalUserId": "alice"}}, token=tenant.app_token)
    socket = await connect(ws_url, {"Authorization": f"Bearer {tenant.user_token('alice')}"})
    try:
        await subscribe(socket)  # the one allowed
        await socket.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": WATCH}}))
        message = await receive(socket)
        assert message["id"] == "2" and message["payload"]["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    finally:
        settings.subscription_max_per_connection = limit
        await socket.close()


async def test_connections_per_app_are_limited(app: Starlette, gateway: Gateway, tenant: Tenant, ws_url: str) -> None:
    settings = app.state.runtime.settings
    limit = settings.subscription_max_connections_per_app
    settings.subscription_max_connections_per_app = 1
    params = {"Authorization": f"Bearer {tenant.app_token}"}
    first = await connect(ws_url, params)
    try:
        assert (await receive(first))["type"] == "connection_ack"
        second = await connect(ws_url, params)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(second)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        # Closing the first frees its place.
        await first.close()
        await asyncio.sleep(0.2)
        third = await connect(ws_url, params)
        assert (await receive(third))["type"] == "connection_ack"
        await third.close()
    finally:
        settings.subscription_max_connections_per_app = limit
        await first.close()


async def test_an_idle_subscription_looks_at_the_counter_and_reads_no_outbox(
    gateway: Gateway, tenant: Tenant, ws_url: str, command_log: CommandLog
) -> None:
    """Every open subscription polls: while nothing happens in its app, a poll is one point
    read of the app's event counter, not a range read of the outbox."""
    await gateway.data(UPSERT, {"input": {"externalUserId": "quiet"}}, token=tenant.app_token)
    socket = await connect(ws_url, {"Authorization": f"Bearer {tenant.user_token('quiet')}"})
    try:
        await subscribe(socket)
        with command_log.recording() as sent:
            await asyncio.sleep(1.0)  # about four polls
        assert sent["find outbox"] == 0, sent
        assert sent["find outbox_counters"] >= 2, sent
        await gateway.data(ADD_TAG, {"by": {"externalUserId": "quiet"}, "t": "woke"}, token=tenant.app_token)
        message = await receive(socket)
        assert message["payload"]["data"]["userChanges"]["user"] == {"externalUserId": "quiet", "tags": ["woke"]}
    finally:
        await socket.close()


async def test_the_subscriptions_of_one_app_share_one_poll(
    app: Starlette, gateway: Gateway, tenant: Tenant, ws_url: str, command_log: CommandLog
) -> None:
    """The subscriptions of one app in one process share its polls: three of them idle for a
    second look at the counter once per poll interval between them, not three times, and a
    change is read from the outbox once for all three, not once each."""
    names = ("still-1", "still-2", "still-3")
    for name in names:
        await gateway.data(UPSERT, {"input": {"externalUserId": name}}, token=tenant.app_token)
    tokens = [{"Authorization": f"Bearer {tenant.user_token(name)}"} for name in names]
    async with connected(ws_url, *tokens) as sockets:
        for socket in sockets:
            await subscribe(socket)
        await assert_one_counter_look_per_poll(app, command_log, tenant.app_id)
        with command_log.recording() as busy:
            await gateway.data(ADD_TAG, {"by": {"externalUserId": "still-2"}, "t": "woke"}, token=tenant.app_token)
            message = await receive(sockets[1])
            await asyncio.sleep(0.5)  # the others have read the change too, and moved past it
        assert message["payload"]["data"]["userChanges"]["user"] == {"externalUserId": "still-2", "tags": ["woke"]}
        assert busy["find outbox"] == 1, busy


async def test_an_anonymous_device_cannot_multiply_the_store_reads_with_subscriptions(
    app: Starlette, gateway: Gateway, tenant: Tenant, ws_url: str, command_log: CommandLog
) -> None:
    """The attack: a public app id is enough for a session token, and a session may open
    connections of 10 subscriptions each. Polling on their own, 20 of them made 80 counter
    reads a second, and 20 outbox reads for every change in the app; sharing the app's
    poll, they cost what one subscription does."""
    _, token = await register_anonymous(gateway, tenant, "many-subs")
    settings = app.state.runtime.settings
    per_connection = settings.subscription_max_per_connection
    async with connected(ws_url, *[{"x-session-token": token}] * 2) as sockets:
        for socket in sockets:
            await subscribe_all_it_may(socket, per_connection)
        await assert_one_counter_look_per_poll(app, command_log, tenant.app_id)
        with command_log.recording() as busy:
            await gateway.data(UPSERT, {"input": {"externalUserId": "bystander"}}, token=tenant.app_token)
            await asyncio.sleep(3 * settings.subscription_poll_ms / 1000)
        assert busy["find outbox"] == 1, busy


async def test_connections_of_one_session_share_its_re_checks(
    app: Starlette, gateway: Gateway, tenant: Tenant, ws_url: str, command_log: CommandLog
) -> None:
    """The attack: one anonymous session opens many connections, and each re-checked the
    session every second (two store reads). Shared, the re-checks cost what one connection's
    do. And a voided session still ends every connection."""
    _, token = await register_anonymous(gateway, tenant, "many-connections")
    most = app.state.runtime.settings.subscription_max_connections_per_user  # as many as one user may hold
    assert most >= 5
    async with connected(ws_url, *[{"x-session-token": token}] * most) as sockets:
        for socket in sockets:
            await subscribe(socket)
        with command_log.recording() as quiet:
            await asyncio.sleep(2.0)
        assert 1 <= quiet["find sessions"] <= 3, quiet  # five connections: 10 before
        await personalize(gateway, tenant, "many-connections", {"externalUserId": "many-connections"})
        for socket in sockets:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(10):
                    await receive(socket)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.fixture(scope="module")
async def fresh_app(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fresh]:
    """A gateway on a store of its own: on the test suite's shared store (mongoeco's memory
    engine, whose writes slow down as collections grow), a 600-user bulk upsert late in the
    run took over 20 s."""
    log = CommandLog()
    configured = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("bursts")})
    application = create_app(configured, listeners=[log])
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http,
            served_on_loopback(application) as port,
        ):
            yield Fresh(application, Gateway(http), f"ws://127.0.0.1:{port}/graphql", log)


async def test_a_burst_is_read_once_for_all_the_subscriptions_of_an_app(fresh_app: Fresh, admin_token: str) -> None:
    """A bulk upsert of 600 users leaves more than a page (500) to read: the subscriptions
    catch up at once, and those at one position share each read. Reading on their own, 10
    subscriptions made 12 outbox reads for this burst (the shared first page, then one each
    for the rest); now 3, what one subscription needs."""
    app, gateway, ws_url, command_log = fresh_app.app, fresh_app.gateway, fresh_app.ws_url, fresh_app.commands
    tenant = await new_tenant(gateway, admin_token)
    _, token = await register_anonymous(gateway, tenant, "burst-watcher")
    async with connected(ws_url, {"x-session-token": token}) as (socket,):
        await subscribe_all_it_may(socket, app.state.runtime.settings.subscription_max_per_connection)
        records = [{"externalUserId": f"burst-{number}"} for number in range(600)]
        with command_log.recording() as sent:
            done = await gateway.data(BULK, {"r": records}, token=tenant.app_token)
            assert done == {"bulkUpsertUsers": {"failed": 0}}
            await asyncio.sleep(1.0)
        # Two reads for the first page (a full batch, then one entry to know there is more),
        # one for the remaining 100.
        assert sent["find outbox"] == 3, sent


async def test_a_parse_error_does_not_repeat_a_string_of_the_document(tenant: Tenant, ws_url: str) -> None:
    """A syntax error names the token it found; a string literal there can be a secret. The
    protocol handler closes the connection with the error's message as the reason."""
    secret = "xoxb-1234567890-very-secret"
    async with connected(ws_url, {"authorization": f"Bearer {tenant.app_token}"}) as (socket,):
        assert (await receive(socket))["type"] == "connection_ack"
        payload = {"query": 'subscription { userChanges { "' + secret + '" } }'}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            await receive(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason.startswith("Syntax Error: Expected Name")
    assert secret not in closed.value.rcvd.reason
