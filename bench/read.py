"""Read benchmark: the gateway against a minimal hand-written endpoint, on one store.

    python -m bench.read [--users 60] [--duration 8] [--concurrency 16]

Starts the embedded store as its own process (``profile-gateway store`` on a temporary data
directory, so that neither endpoint hosts it), the gateway on it (``profile-gateway serve``: one
uvicorn worker), seeds an app with users, starts bench/minimal.py (Starlette + PyMongo) on the
same store, checks that both answer the same JSON, then drives each
with concurrent httpx clients and prints requests/s, p50/p99 latency and the ratio
gateway/minimal per scenario. ``--gateway-env NAME=VALUE`` sets gateway settings (e.g.
``PROFILE_GATEWAY_QUERY_CACHE_SIZE=0`` to measure without the parse/validation caches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.auth import tokens
from app.store.store_address import running_store_uri

USER_FIELDS = (
    "id externalUserId type givenName emails tags createdAt version "
    "customAttributes { key type value } "
    "installations { id pushRegistrationId platform isPrimaryDevice lastSeenAt }"
)


@dataclass(frozen=True)
class Scenario:
    """One read, as a GraphQL operation and as the minimal endpoint's equivalent request."""

    name: str
    query: str
    variables: dict[str, Any]
    minimal_path: str
    minimal_body: dict[str, Any]


SCENARIOS = [
    Scenario(
        "user(by:) { …, installations }",
        f"query($id: String!) {{ user(by: {{externalUserId: $id}}) {{ {USER_FIELDS} }} }}",
        {"id": "u7"},
        "/user",
        {"externalUserId": "u7"},
    ),
    Scenario(
        "users(first: 50)",
        f"query {{ users(first: 50) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {USER_FIELDS} }} }} }}",
        {},
        "/users",
        {"first": 50},
    ),
]


SAVE = """
mutation($prid: String!) {
  saveInstallation(input: {pushRegistrationId: $prid, platform: ANDROID}) { userErrors { code } }
}
"""
PERSONALIZE = """
mutation($prid: String!, $id: String!) {
  personalize(pushRegistrationId: $prid, identity: {externalUserId: $id}) { userErrors { code } }
}
"""


def start(arguments: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *arguments], env=env, stderr=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def wait_for_store(data_dir: Path, process: subprocess.Popen[bytes], seconds: float = 60) -> str:
    """The connection string the store process writes into its data directory once it serves."""
    deadline = time.monotonic() + seconds
    while (uri := running_store_uri(data_dir)) is None:
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the store process did not start")
        await asyncio.sleep(0.1)
    return uri


async def graphql(client: httpx.AsyncClient, url: str, token: str, query: str, variables: dict[str, Any]) -> Any:
    response = await client.post(
        url,
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


async def seed(base: str, data_dir: Path, users: int) -> str:
    """A new app with ``users`` users on the gateway at ``base``; its app token."""
    admin_secret = json.loads((data_dir / "secrets.json").read_text())["admin_secret"]
    admin = tokens.mint(admin_secret, {"scope": "admin"})
    async with httpx.AsyncClient(timeout=30) as client:
        return await seed_users(client, base, admin, users)


async def seed_users(client: httpx.AsyncClient, base: str, admin: str, users: int) -> str:
    """Create an app and ``users`` users (attributes of every scalar type, tags), each with
    an installation (registered anonymously, then personalized into the user)."""
    url = f"{base}/graphql"
    created = await graphql(client, url, admin, 'mutation { createApp(name: "bench") { key { id secret } } }', {})
    key = created["createApp"]["key"]
    token = tokens.mint(key["secret"], {"scope": "app"}, key_id=key["id"])
    upsert = "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { userErrors { code } } }"
    for index in range(users):
        record = {
            "externalUserId": f"u{index}",
            "givenName": f"Name {index}",
            "emails": [f"u{index}@example.com"],
            "tags": ["bench", f"cohort{index % 5}"],
            "customAttributes": [
                {"key": "ltv", "value": {"number": f"{index}.99"}},
                {"key": "plan", "value": {"string": "pro" if index % 2 else "free"}},
                {"key": "trial", "value": {"boolean": index % 3 == 0}},
                {"key": "renewal", "value": {"date": "2026-03-01"}},
                {"key": "lastOrder", "value": {"datetime": "2026-01-02T03:04:05Z"}},
            ],
        }
        await graphql(client, url, token, upsert, {"input": record})
        await graphql(client, url, token, SAVE, {"prid": f"device-{index}"})
        personalized = await graphql(client, url, token, PERSONALIZE, {"prid": f"device-{index}", "id": f"u{index}"})
        assert personalized["personalize"]["userErrors"] == [], personalized
    return token


async def drive(url: str, body: dict[str, Any], token: str, seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    payload = json.dumps(body).encode()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(until: float, record: bool) -> None:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.post(url, content=payload, headers=headers)
                if response.status_code != 200 or b'"errors"' in response.content:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
                if record:
                    latencies.append(time.perf_counter() - started)

        warm_until = time.perf_counter() + min(0.5, seconds / 4)
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        until = time.perf_counter() + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
    return latencies


def summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(ordered) / seconds, statistics.median(ordered) * 1000, p99 * 1000


async def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-read-"))
    gateway_port, minimal_port = free_port(), free_port()
    gateway_env = {
        **os.environ,
        "PROFILE_GATEWAY_GRAPHIQL": "false",
        # The per-app rate limit would answer most of the load with 429s; the minimal
        # endpoint has none.
        "PROFILE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
    }
    gateway_env.update(dict(item.split("=", 1) for item in args.gateway_env))
    gateway_env.pop("MONGODB_URI", None)
    processes = [start(["-m", "app.cli", "store", "--data-dir", str(data_dir)], gateway_env)]
    try:
        store_uri = await wait_for_store(data_dir, processes[0])
        serve = ["-m", "app.cli", "serve", "--port", str(gateway_port), "--data-dir", str(data_dir)]
        processes.append(start([*serve, "--log-level", "warning"], gateway_env))
        gateway = f"http://127.0.0.1:{gateway_port}"
        await wait_until_up(f"{gateway}/readyz")
        token = await seed(gateway, data_dir, args.users)
        minimal_env = {**os.environ, "BENCH_STORE_URI": store_uri}
        uvicorn = ["-m", "uvicorn", "bench.minimal:app", "--port", str(minimal_port)]
        processes.append(start([*uvicorn, "--log-level", "warning"], minimal_env))
        minimal = f"http://127.0.0.1:{minimal_port}"
        await wait_until_up(minimal)
        machine = f"{platform.processor() or platform.machine()} · {os.cpu_count()} CPUs"
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"# {machine} · Python {platform.python_version()} · {when}")
        settings = " ".join(args.gateway_env) or "defaults"
        print(f"# {args.users} users, {args.concurrency} clients, {args.duration:g} s per target")
        print(f"# gateway settings: {settings}")
        print(f"{'scenario':32} {'target':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for scenario in SCENARIOS:
            gateway_body = {"query": scenario.query, "variables": scenario.variables}
            async with httpx.AsyncClient() as client:
                headers = {"authorization": f"Bearer {token}"}
                expected = (await client.post(f"{gateway}/graphql", json=gateway_body, headers=headers)).json()
                got = (
                    await client.post(
                        f"{minimal}{scenario.minimal_path}",
                        json=scenario.minimal_body,
                        headers=headers,
                    )
                ).json()
            assert expected == got, f"{scenario.name}: the two endpoints answer differently:\n{expected}\n{got}"
            # Rounds that alternate the targets, so drift in the machine's load hits both alike.
            latencies: dict[str, list[float]] = {"minimal": [], "gateway": []}
            targets = {
                "minimal": (f"{minimal}{scenario.minimal_path}", scenario.minimal_body),
                "gateway": (f"{gateway}/graphql", gateway_body),
            }
            slice_seconds = args.duration / args.rounds
            for round_index in range(args.rounds):
                order = ["minimal", "gateway"] if round_index % 2 == 0 else ["gateway", "minimal"]
                for target in order:
                    url, body = targets[target]
                    latencies[target] += await drive(url, body, token, slice_seconds, args.concurrency)
            rates = {}
            for target in ("minimal", "gateway"):
                rate, p50, p99 = summary(latencies[target], args.duration)
                rates[target] = rate
                print(f"{scenario.name:32} {target:8} {rate:8.0f} {p50:8.1f} {p99:8.1f}")
            ratio = rates["gateway"] / rates["minimal"]
            print(f"{scenario.name:32} {'ratio':8} {ratio:8.2f}   (gateway/minimal, req/s)")
    finally:
        for process in reversed(processes):  # the store last, after the endpoints on it
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=60, help="users to seed (at least 50)")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds measured per target and scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the duration is split into")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
