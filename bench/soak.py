"""Load soak: one gateway process (embedded store), concurrent clients, a bounded mixed workload.

    python -m bench.soak --duration 180 --clients 8

The mix (bench/soak_workload.py): half mobile devices (anonymous installs with X-App-Id,
session-token reads and heartbeats, personalize, the signed-in user's reads and property
operations, logout by depersonalize), half backend calls with the app token (user reads
with installations, filtered `users` pages, upserts, property operations, tags).

Prints throughput, errors (must be 0), latency percentiles per operation and in total, and
the server's RSS over time (it must level off). Traffic goes to 127.0.0.1 only; the run
stops by itself after ``--duration`` seconds or ``--max-requests`` requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx
import psutil

from app.auth import tokens
from bench.soak_workload import UPSERT, USERS, Device, Pager, Request, advance, next_request, seed_record

DEVICES_PER_CLIENT = 4


@dataclass
class Tally:
    """Latencies and errors of one operation (or of all)."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass
class Credentials:
    app_id: str
    key_id: str
    secret: str
    app_token: str
    user_tokens: dict[str, str] = field(default_factory=dict)  # by externalUserId; valid for an hour

    def headers(self, request: Request) -> dict[str, str]:
        device = request.device
        match request.auth:
            case "anonymous":
                return {"x-app-id": self.app_id}
            case "session" if device is not None and device.session is not None:
                return {"x-session-token": device.session}
            case "user":
                sub = str(request.variables.get("id") or (device.external_id if device else ""))
                if sub not in self.user_tokens:
                    self.user_tokens[sub] = tokens.mint(self.secret, {"scope": "user", "sub": sub}, key_id=self.key_id)
                return {"authorization": f"Bearer {self.user_tokens[sub]}"}
        return {"authorization": f"Bearer {self.app_token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def failure(response: httpx.Response) -> str | None:
    """Why the response is not a success, or None."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.json()
    if body.get("errors"):
        first = body["errors"][0]
        return str(first.get("extensions", {}).get("code") or first.get("message", "")[:80])
    for payload in body["data"].values():
        if isinstance(payload, dict) and payload.get("userErrors"):
            error = payload["userErrors"][0]
            return f"userError {error['code']} at {'.'.join(map(str, error.get('field') or []))}"
    return None


async def client(
    http: httpx.AsyncClient,
    credentials: Credentials,
    deadline: float,
    budget: list[int],
    seed: int,
    tallies: dict[str, Tally],
) -> None:
    rng = random.Random(seed)
    devices = [Device(f"soak-c{seed}-d{index}") for index in range(DEVICES_PER_CLIENT)]
    pager = Pager()
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        request = next_request(rng, devices, pager)
        tally = tallies[request.name]
        started = time.perf_counter()
        try:
            response = await http.post(
                "/graphql",
                json={"query": request.query, "variables": request.variables},
                headers=credentials.headers(request),
            )
        except httpx.HTTPError as error:
            tally.error(type(error).__name__)
            continue
        tally.latencies.append(time.perf_counter() - started)
        reason = failure(response)
        if reason is not None:
            tally.error(reason)
            if os.environ.get("SOAK_VERBOSE"):
                print(request.name, request.variables, response.text[:400], file=sys.stderr)
            continue
        advance(request, response.json()["data"])


async def sample_rss(
    process: psutil.Process, deadline: float, every: float, budget: list[int], samples: list[float]
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        samples.append(process.memory_info().rss / 2**20)
        await asyncio.sleep(min(every, max(deadline - time.monotonic(), 0)))
    samples.append(process.memory_info().rss / 2**20)


async def wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


async def setup(http: httpx.AsyncClient, data_dir: Path) -> Credentials:
    """A new app and its seeded users."""
    # With MONGODB_URI the admin secret comes from the environment, else from the data dir.
    admin_secret = (
        os.environ.get("PROFILE_GATEWAY_ADMIN_SECRET")
        or json.loads((data_dir / "secrets.json").read_text())["admin_secret"]
    )
    admin = tokens.mint(admin_secret, {"scope": "admin"})
    created = await http.post(
        "/graphql",
        headers={"authorization": f"Bearer {admin}"},
        json={"query": 'mutation { createApp(name: "soak") { app { id } key { id secret } } }'},
    )
    payload = created.json()["data"]["createApp"]
    key = payload["key"]
    token = tokens.mint(key["secret"], {"scope": "app"}, key_id=key["id"])
    credentials = Credentials(payload["app"]["id"], key["id"], key["secret"], token)
    for index in range(USERS):
        response = await http.post(
            "/graphql",
            headers={"authorization": f"Bearer {token}"},
            json={"query": UPSERT, "variables": {"input": seed_record(index)}},
        )
        assert failure(response) is None, response.text
    return credentials


def start_server(port: int, data_dir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        # The soak measures the gateway, not the limiters. Its simulated devices all send from
        # 127.0.0.1, so the limit per client address of X-App-Id alone would refuse them as one.
        "PROFILE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "PROFILE_GATEWAY_END_USER_LIMIT_PER_SECOND": "0",
        "PROFILE_GATEWAY_ANONYMOUS_LIMIT_PER_MINUTE": "0",
        "PROFILE_GATEWAY_GRAPHIQL": "false",
    }
    command = ["-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen(
        [sys.executable, *command, "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=log,  # JSON logs: an unexpected error's traceback is there, under its request id
    )


async def soak(duration: float, clients: int, max_requests: int) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    port = free_port()
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    server = start_server(port, data_dir, log)
    tallies: dict[str, Tally] = defaultdict(Tally)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await wait_ready(http)
            credentials = await setup(http, data_dir)
            process = psutil.Process(server.pid)
            rss: list[float] = []
            budget = [max_requests]
            started = time.monotonic()
            deadline = started + duration
            await asyncio.gather(
                sample_rss(process, deadline, max(duration / 12, 1), budget, rss),
                *(client(http, credentials, deadline, budget, seed, tallies) for seed in range(clients)),
            )
            elapsed = time.monotonic() - started
    finally:
        server.terminate()  # SIGTERM: uvicorn drains in-flight requests, then exits
        server.wait(timeout=30)
        log.close()
    report(tallies, elapsed, clients, rss)
    if any(tally.errors for tally in tallies.values()):
        print(f"server log      {log_path}")  # the store stays next to it, to look into
        return 1
    shutil.rmtree(data_dir)
    return 0


def percentiles(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return ""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return f"{cuts[49] * 1000:7.0f} {cuts[94] * 1000:7.0f} {cuts[98] * 1000:7.0f} {max(latencies) * 1000:7.0f}"


def report(tallies: dict[str, Tally], elapsed: float, clients: int, rss: list[float]) -> None:
    total = Tally()
    for tally in tallies.values():
        total.latencies.extend(tally.latencies)
        for kind, count in tally.errors.items():
            total.errors[kind] = total.errors.get(kind, 0) + count
    print(f"date            {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs")
    print(f"duration        {elapsed:.0f} s, {clients} concurrent clients")
    print(f"requests        {len(total.latencies)}  ({len(total.latencies) / elapsed:.1f} req/s)")
    print(f"errors          {sum(total.errors.values())}  {total.errors or ''}")
    print(f"server RSS MiB  start {rss[0]:.0f}  end {rss[-1]:.0f}  max {max(rss):.0f}")
    print(f"RSS samples     {' '.join(f'{value:.0f}' for value in rss)}")
    print()
    print(f"{'operation':34} {'count':>6} {'errors':>6}   {'p50':>5} {'p95':>7} {'p99':>7} {'max':>7} ms")
    for name in sorted(tallies, key=lambda name: -len(tallies[name].latencies)):
        tally = tallies[name]
        errors = sum(tally.errors.values())
        print(f"{name:34} {len(tally.latencies):6} {errors:6} {percentiles(tally.latencies)}")
    print(f"{'total':34} {len(total.latencies):6} {sum(total.errors.values()):6} {percentiles(total.latencies)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180, at most 1800)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="stop after this many (default 50000)")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(soak(min(arguments.duration, 1800.0), arguments.clients, arguments.max_requests)))


if __name__ == "__main__":
    main()
