"""The gateway's own work per cached simple read, counted rather than timed.

    python -m bench.calls [--users 1000] [--calls 500] [--rounds 8]

CPU time on a shared virtual machine moves by up to 2x within an hour (bench/README.md), so a
change of a few per cent in the gateway's own work cannot be seen in it. The number of Python
function calls a request makes moves by a handful between runs (the event loop's scheduling), not
with the host's speed. This benchmark starts ``profile-gateway store`` with ``--users`` seeded
users (as bench/scale.py does) and calls three ASGI applications in this process, without an HTTP
server, each answering
``user(by: {id}) { id }`` with the same one look-up: the gateway (an app token whose key is
cached), bench/bare_strawberry.py and bench/minimal.py. Per application it prints the Python
calls per request (``cProfile``'s count, generators' and coroutines' resumptions included) and
the CPU per request over ``--rounds`` alternating rounds, each with the gateway's divided by it.
The first column moves with the code; the second shows what the count costs today.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import SecretStr
from starlette.types import ASGIApp, Message

from app.config import Settings
from app.main import create_app
from bench import scale

QUERY = "query($v: ID!) { user(by: {id: $v}) { id } }"


@dataclass
class Target:
    name: str
    app: ASGIApp
    path: str
    headers: list[tuple[bytes, bytes]]


async def post(target: Target, body: bytes) -> tuple[int, bytes]:
    """One POST through the ASGI application: (status, response body)."""
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the request runs
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": target.path,
        "raw_path": target.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"), *target.headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await target.app(scope, receive, send)
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


@contextlib.asynccontextmanager
async def targets(rig: scale.Rig) -> AsyncIterator[list[Target]]:
    """The three applications, started (lifespans entered) on the rig's store."""
    secrets = json.loads((rig.data_dir / "secrets.json").read_text())
    settings = Settings(
        data_dir=rig.data_dir,
        mongodb_uri=rig.store_uri,
        admin_secret=SecretStr(secrets["admin_secret"]),
        master_key=SecretStr(secrets["master_key"]),
        rate_limit_per_second=0,
    )
    os.environ |= {"BENCH_STORE_URI": rig.store_uri, "BENCH_DATABASE": scale.DATABASE, "BENCH_APP_ID": rig.app_id}
    from bench import bare_strawberry, minimal  # they read BENCH_* when their lifespans start

    gateway = create_app(settings)
    listed = [
        Target("the gateway", gateway, "/graphql", [(b"authorization", f"Bearer {rig.token}".encode())]),
        Target("bare Strawberry (bench/bare_strawberry.py)", bare_strawberry.app, "/graphql", []),
        Target("minimal endpoint (bench/minimal.py)", minimal.app, "/user-by-id", []),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for target in listed:
            await stack.enter_async_context(target.app.router.lifespan_context(target.app))  # type: ignore[attr-defined]
        yield listed


def _bodies(ids: list[str]) -> list[bytes]:
    return [orjson.dumps({"query": QUERY, "variables": {"v": user_id}}) for user_id in ids]


async def _calls_per_request(target: Target, bodies: list[bytes], calls: int) -> float:
    profile = cProfile.Profile()
    profile.enable()
    for call in range(calls):
        await post(target, bodies[call % len(bodies)])
    profile.disable()
    return float(pstats.Stats(profile).total_calls) / calls  # type: ignore[attr-defined]


async def _cpu_ms(target: Target, bodies: list[bytes], calls: int) -> float:
    began = time.process_time()
    for call in range(calls):
        await post(target, bodies[call % len(bodies)])
    return (time.process_time() - began) / calls * 1000


async def run(args: argparse.Namespace) -> None:
    rig = await scale.start_size(args.users, argparse.Namespace(engine="sqlite", keep=False))
    try:
        bodies = _bodies(rig.ids)
        async with targets(rig) as listed:
            answers = {target.name: await post(target, bodies[0]) for target in listed}
            assert len(set(answers.values())) == 1, f"the answers differ: {answers}"
            for target in listed:  # warm: caches filled, connections open
                for call in range(200):
                    await post(target, bodies[call % len(bodies)])
            counted = {target.name: await _calls_per_request(target, bodies, args.calls) for target in listed}
            cpu: dict[str, list[float]] = {target.name: [] for target in listed}
            for round_index in range(args.rounds):
                for target in listed if round_index % 2 == 0 else list(reversed(listed)):
                    cpu[target.name].append(await _cpu_ms(target, bodies, args.calls))
        _print(listed[0].name, counted, cpu, args)
    finally:
        scale.stop_size(rig)


def _print(gateway: str, counted: dict[str, float], cpu: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(
        f"`user(by: {{id}}) {{ id }}` in this process, no HTTP server; {args.calls} calls per figure, "
        f"{args.users:,} users"
    )
    print()
    print("| application | Python calls per request | the gateway's / its | CPU ms per request | the gateway's / its |")
    print("|---|---:|---:|---:|---:|")
    for name, count in counted.items():
        ratios = [ours / theirs for ours, theirs in zip(cpu[gateway], cpu[name], strict=True)]
        print(
            f"| {name} | {count:,.0f} | {counted[gateway] / count:.2f} | {scale._spread(cpu[name])} "
            f"| {statistics.median(ratios):.2f} |"
        )
    print()
    print(f"machine speed: {scale.machine_speed_ms():.0f} ms for the fixed loop of bench/scale.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000, help="users seeded in the store")
    parser.add_argument("--calls", type=int, default=500, help="requests per figure")
    parser.add_argument("--rounds", type=int, default=8, help="alternating CPU rounds")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
