"""Change events: the cost the outbox adds to a mutation, and how many events per second one
dispatcher delivers to a local receiver. In-process, one embedded store.

    python -m bench.events [--mutations 200] [--rounds 4] [--events 1000] [--users 50]

The outbox-off variant replaces the outbox write with nothing (history is still written), in
alternating rounds with the normal path, so both see the same store and the same machine.

Measured on the 2-core development machine (embedded memory engine, other work running):
`--mutations 100 --rounds 3 --events 500 --users 25` gave addTags 44.1 ms with the outbox,
31.9 ms without (ratio 1.38: two more round trips, the counter and the insert, on a mutation
of about five), and 37 events/s delivered by one dispatcher (two store writes per delivery,
the lease and the outcome, and one HTTP request on a new connection each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.auth import tokens
from app.config import Settings
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime, create_app
from app.store import outbox, webhooks

ADD_TAG = (
    "mutation($id: String!, $t: String!) { addTags(by: {externalUserId: $id}, tags: [$t]) { userErrors { code } } }"
)


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, list[int]]]:
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append(1)
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def outbox_off() -> Iterator[None]:
    async def nothing(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    original = outbox.append
    outbox.append = nothing
    try:
        yield
    finally:
        outbox.append = original


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"authorization": f"Bearer {token}"}
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, app.state.runtime


async def run(args: argparse.Namespace) -> None:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-events-")),
        embedded_engine="memory",
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
        master_key=SecretStr(Fernet.generate_key().decode()),
        webhook_dispatcher=False,
        webhook_allow_http_localhost=True,
        rate_limit_per_second=0,
    )
    assert settings.admin_secret is not None
    admin = tokens.mint(settings.admin_secret.get_secret_value(), {"scope": "admin"})
    async with gateway(settings) as (client, runtime):
        created = await post(
            client, 'mutation { createApp(name: "bench") { app { id } key { id secret } } }', {}, admin
        )
        key = created["createApp"]["key"]
        token = tokens.mint(key["secret"], {"scope": "app"}, key_id=key["id"])
        await post(client, 'mutation { upsertUser(input: {externalUserId: "u"}) { user { id } } }', {}, token)

        async def mutations() -> float:
            started = time.perf_counter()
            for n in range(args.mutations):
                await post(client, ADD_TAG, {"id": "u", "t": f"t{n % 20}-{secrets.token_hex(2)}"}, token)
            milliseconds: float = (time.perf_counter() - started) / args.mutations * 1000
            return milliseconds

        on: list[float] = []
        off: list[float] = []
        for _ in range(args.rounds):
            on.append(await mutations())
            with outbox_off():
                off.append(await mutations())
        print(f"addTags, ms per mutation (median of {args.rounds} rounds of {args.mutations}):")
        print(f"  outbox on  {statistics.median(on):7.2f}")
        print(f"  outbox off {statistics.median(off):7.2f}")
        print(f"  ratio      {statistics.median(on) / statistics.median(off):7.2f}")

        with receiver() as (url, received):
            endpoint = await post(
                client,
                "mutation($u: String!) { createWebhookEndpoint(input: {url: $u}) { endpoint { id } } }",
                {"u": url},
                token,
            )
            endpoint_id = endpoint["createWebhookEndpoint"]["endpoint"]["id"]
            for n in range(args.users):
                await post(
                    client,
                    "mutation($id: String!) { upsertUser(input: {externalUserId: $id}) { user { id } } }",
                    {"id": f"b{n}"},
                    token,
                )
            for n in range(args.events - args.users):
                await post(client, ADD_TAG, {"id": f"b{n % args.users}", "t": f"x{n}"}, token)
            dispatcher = Dispatcher(runtime.store, runtime.box, runtime.settings)
            started = time.perf_counter()
            async with httpx.AsyncClient(timeout=10) as http:
                dispatcher.client = http
                while len(received) < args.events:
                    await dispatcher.run_once()
            seconds = time.perf_counter() - started
            pending = await webhooks.pending(runtime.store, endpoint_id, 1)
            assert not pending
        print(
            f"dispatcher: {args.events} events to {args.users} users in {seconds:.2f} s"
            f" = {args.events / seconds:.0f} events/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
