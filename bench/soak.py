"""Load soak: one gateway process (embedded store), concurrent clients, a bounded mixed workload.

    python -m bench.soak --duration 120 --clients 8

Prints throughput, error count (must be 0), latency percentiles and the server's RSS over
time (it must level off). Traffic goes to 127.0.0.1 only; the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from app.auth import tokens

USERS = 50
READ = "query($id: String!) { user(by: {externalUserId: $id}) { id givenName tags version } }"
# Add `users(...)` lists, `increment` and personalize here once those operations exist.
UPSERT = """mutation($id: String!, $name: String!) {
  upsertUser(input: {externalUserId: $id, givenName: $name}) {
    user { version } userErrors { code } } }"""
TAGS = """mutation($id: String!, $tag: String!) {
  addTags(by: {externalUserId: $id}, tags: [$tag]) { user { version } userErrors { code } } }"""
PROPERTIES = """mutation($id: String!, $n: String!) {
  updateCustomAttributes(by: {externalUserId: $id}, ops: [
    {set: {key: "score", value: {number: $n}}}, {set: {key: "plan", value: {string: "pro"}}}
  ]) { user { version } userErrors { code } } }"""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def workload(rng: random.Random) -> tuple[str, dict[str, Any]]:
    user = f"soak-{rng.randrange(USERS)}"
    roll = rng.random()
    if roll < 0.50:
        return READ, {"id": user}
    if roll < 0.70:
        return UPSERT, {"id": user, "name": f"N{rng.randrange(1000)}"}
    if roll < 0.85:
        return TAGS, {"id": user, "tag": f"t{rng.randrange(20)}"}
    return PROPERTIES, {"id": user, "n": f"{rng.randrange(10_000)}.{rng.randrange(100):02d}"}


async def client(http: httpx.AsyncClient, token: str, deadline: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    headers = {"authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        query, variables = workload(rng)
        started = time.perf_counter()
        try:
            response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        except httpx.HTTPError as error:
            tally.error(type(error).__name__)
            continue
        tally.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            tally.error(f"HTTP {response.status_code}")
            continue
        body = response.json()
        if body.get("errors"):
            first = body["errors"][0]
            tally.error(str(first.get("extensions", {}).get("code") or first.get("message", "")[:80]))
        elif any(payload.get("userErrors") for payload in body["data"].values() if isinstance(payload, dict)):
            tally.error("userErrors")


async def sample_rss(process: psutil.Process, deadline: float, every: float, samples: list[float]) -> None:
    while time.monotonic() < deadline:
        samples.append(process.memory_info().rss / 2**20)
        await asyncio.sleep(every)
    samples.append(process.memory_info().rss / 2**20)


async def soak(duration: float, clients: int) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    port = free_port()
    env = {
        **os.environ,
        "PROFILE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "PROFILE_GATEWAY_GRAPHIQL": "false",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any request
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(300):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            # With MONGODB_URI the admin secret comes from the environment, else from the data dir.
            admin_secret = (
                os.environ.get("PROFILE_GATEWAY_ADMIN_SECRET")
                or json.loads((data_dir / "secrets.json").read_text())["admin_secret"]
            )
            admin = tokens.mint(admin_secret, {"scope": "admin"})
            created = await http.post(
                "/graphql",
                headers={"authorization": f"Bearer {admin}"},
                json={"query": 'mutation { createApp(name: "soak") { key { id secret } } }'},
            )
            key = created.json()["data"]["createApp"]["key"]
            token = tokens.mint(key["secret"], {"scope": "app"}, key_id=key["id"])
            for index in range(USERS):
                await http.post(
                    "/graphql",
                    headers={"authorization": f"Bearer {token}"},
                    json={"query": UPSERT, "variables": {"id": f"soak-{index}", "name": "seed"}},
                )
            process = psutil.Process(server.pid)
            rss: list[float] = []
            tally = Tally()
            started = time.monotonic()
            deadline = started + duration
            await asyncio.gather(
                sample_rss(process, deadline, max(duration / 12, 1), rss),
                *(client(http, token, deadline, seed, tally) for seed in range(clients)),
            )
            elapsed = time.monotonic() - started
    finally:
        server.terminate()  # SIGTERM: uvicorn drains in-flight requests, then exits
        server.wait(timeout=30)
    report(tally, elapsed, clients, rss)
    return 1 if tally.errors else 0


def report(tally: Tally, elapsed: float, clients: int, rss: list[float]) -> None:
    latencies = sorted(tally.latencies)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"duration        {elapsed:.0f} s, {clients} concurrent clients")
    print(f"requests        {len(latencies)}  ({len(latencies) / elapsed:.1f} req/s)")
    print(f"errors          {sum(tally.errors.values())}  {tally.errors or ''}")
    print(
        f"latency ms      p50 {cuts[49] * 1000:.1f}  p95 {cuts[94] * 1000:.1f}"
        f"  p99 {cuts[98] * 1000:.1f}"
        f"  max {latencies[-1] * 1000:.1f}"
    )
    print(f"server RSS MiB  start {rss[0]:.0f}  end {rss[-1]:.0f}  max {max(rss):.0f}")
    print(f"RSS samples     {' '.join(f'{value:.0f}' for value in rss)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(soak(min(arguments.duration, 1800.0), arguments.clients)))


if __name__ == "__main__":
    main()
