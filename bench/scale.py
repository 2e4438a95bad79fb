"""How request times grow with the number of users, with the store's CPU and the gateway's apart.

    python -m bench.scale [--sizes 1000,10000,50000] [--calls 20] [--write-calls 20]
                          [--growth-rounds 5] [--growth-calls 10]
                          [--clients 8] [--write-seconds 10] [--write-rounds 3]
                          [--floor-rounds 6] [--floor-calls 300] [--floor-client light[,light4,httpx]]
                          [--engine sqlite]

For each size, in a fresh temporary data directory: starts ``profile-gateway store`` (the
embedded store as its own process) and creates an app through it; seeds that many users
(an externalUserId, an email, two tags, an iOS installation with a push token, and their
identifier-registry entries); starts one
``profile-gateway serve`` process on the store (rate limit off), then sends each request
shape sequentially from this process and prints per shape: the median and p90 wall time,
and the CPU milliseconds per call of the store process and of the gateway process (read
from each process, so the load generator's own CPU is in neither). Then ``--clients``
concurrent clients send single-user writes (increments) for ``--write-seconds``, in
``--write-rounds`` rounds: the median rate and its range are printed. Last, the gateway's
CPU per ``user(by: {id})`` (a cached simple read) is compared with that of two baselines
making the same one look-up on the same store: bench/minimal.py (Starlette + PyMongo, no
GraphQL) and bench/bare_strawberry.py (a one-field Strawberry schema with Strawberry's
parser and validation caches), in ``--floor-rounds`` rounds of ``--floor-calls`` requests
that alternate the three, sent by bench/loopback.py's light client (httpx, which costs this
host more CPU per request than the servers it measures, moved their figures: see that module);
a second table gives each one's CPU, the gateway's divided by it, and the load generator's
own CPU per request. A line after each
table gives the machine's speed on a fixed piece of pure-Python work, since the same code
measures differently as a shared machine's speed changes. Every size's store and gateway stay
up until the end: the judged shapes (``bench/scale_targets.py``) are then sent to the smallest
and the largest size in ``--growth-rounds`` interleaved rounds of ``--growth-calls`` calls, and
the Targets table judges growth by the median of the per-round ratios (a host whose speed
changed between two sizes' tables moved a sequential ratio by up to 1.7x). Loopback only;
every process started here is stopped at the end.

Seeding (SQLite, the default and the gateway's default engine): the store process is
stopped after the app is created; the gateway's indexes are created and the users and
registry entries written into its SQLite file in this process, through mongoeco's own
client (batches of 1,000: 50,000 users in about a minute), and the store is started again
on that file, so the gateway starts on built indexes. The memory engine keeps nothing
across a restart, so ``--engine memory`` seeds over the wire (slow beyond 1,000 users).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from bson import Decimal128
from mongoeco import AsyncMongoClient as MongoecoClient
from pydantic import SecretStr

from app.auth import tokens
from app.crypto import SecretBox
from app.domain import installation_data
from app.domain.apps import create_app
from app.domain.installation_data import InstallationData, Platform
from app.domain.profile import new_user_document
from app.store import indexes, registry
from app.store.client import Store, connect
from app.store.embedded_engine import EmbeddedSQLiteEngine
from app.store.store_address import running_store_uri
from app.store.users import with_channel_types
from bench.loopback import KeepAliveClient, encode_post
from bench.read import free_port
from bench.scale_targets import LOOK_UPS, WRITES, Growth, Measured, print_growth, print_targets

SEED_BATCH = 1_000
DATABASE = "profile_gateway"
_GLOBAL_IDS: list[str] = []  # users' GraphQL ids, read once the gateway runs
START_SECONDS = 120


@dataclass(frozen=True)
class Shape:
    name: str
    query: str
    variables: Callable[[int, int], dict[str, Any]]  # (call number, users) → variables
    write: bool = False


SHAPES = [
    Shape(
        "user(by: {externalUserId})",
        "query($v: String!) { user(by: {externalUserId: $v}) { id } }",
        lambda i, n: {"v": f"u{(i * 7919) % n}"},
    ),
    Shape(
        "user(by: {email})",
        "query($v: String!) { user(by: {email: $v}) { id } }",
        lambda i, n: {"v": f"u{(i * 7919) % n}@example.com"},
    ),
    Shape(
        "user(by: {id})",
        "query($v: ID!) { user(by: {id: $v}) { id } }",
        lambda i, n: {"v": _GLOBAL_IDS[i % len(_GLOBAL_IDS)]},
    ),
    # A device names its user: the registry, the installation, the user, then its devices.
    Shape(
        "user(by: {pushRegistrationId}) { channels }",
        "query($v: String!) { user(by: {pushRegistrationId: $v}) { id channels { type } } }",
        lambda i, n: {"v": _device_id((i * 7919) % n)},
    ),
    Shape("users(first: 50)", "{ users(first: 50) { nodes { id externalUserId tags } } }", lambda i, n: {}),
    Shape("users { totalCount }", "{ users(first: 1) { totalCount totalCountIsExact } }", lambda i, n: {}),
    # No seeded user has a SLACK channel: on the embedded store each page rules out at most
    # listing.SCAN_WINDOW users, then ends early (before, every user of the app).
    Shape(
        "users(filter: {hasChannel})",
        "{ users(first: 20, filter: {hasChannel: SLACK}) { nodes { id } } }",
        lambda i, n: {},
    ),
    # No user has 1,000 visits: on the embedded store, which compares decimals in Python, each
    # page matches the attribute on at most listing.ATTRIBUTE_SCAN_WINDOW users.
    Shape(
        "users(filter: {attributes})",
        '{ users(first: 20, filter: {attributes: [{key: "visits", gte: {number: "1000"}}]}) { nodes { id } } }',
        lambda i, n: {},
    ),
    Shape(
        "updateCustomAttributes (increment)",
        "mutation($v: String!) { updateCustomAttributes(by: {externalUserId: $v},"
        ' ops: [{increment: {key: "visits", amount: "1"}}]) { userErrors { code } } }',
        lambda i, n: {"v": f"u{(i * 7919) % n}"},
        write=True,
    ),
    # An app that re-registers with a new token: the device changes and its user's push types
    # are read again at commit (app/domain/device_reach.py).
    Shape(
        "saveInstallation (new push token)",
        "mutation($v: String!, $t: String!) { saveInstallation(input: {pushRegistrationId: $v,"
        " platform: IOS, pushToken: $t}) { userErrors { code } } }",
        lambda i, n: {"v": _device_id((i * 7919) % n), "t": f"token-{n}-{i}".ljust(64, "0")},
        write=True,
    ),
    Shape(
        "upsertUser (new user)",
        "mutation($v: String!) { upsertUser(input: {externalUserId: $v}) { userErrors { code } } }",
        lambda i, n: {"v": f"new-{n}-{i}"},
        write=True,
    ),
]


def _user_id(index: int) -> str:
    return f"user{index:08d}"


def _device_id(index: int) -> str:
    return f"device-{index}"


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _main_thread_cpu(process: psutil.Process) -> float:
    """The CPU of the thread that runs the event loop (the process's first), without the
    driver's and the event loop's worker threads."""
    return float(sum(thread.user_time + thread.system_time for thread in process.threads() if thread.id == process.pid))


def _users(app_id: str, start: int, stop: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    documents = []
    for index in range(start, stop):
        document = new_user_document(app_id, _user_id(index), now)
        document.update(
            type="CUSTOMER",
            externalUserId=f"u{index}",
            emails=[f"u{index}@example.com"],
            tags=["bench", f"cohort{index % 5}"],
            deviceChannelTypes=["IOS_PUSH"],
            # A NUMBER attribute, stored as Decimal128, as most apps' users have.
            attrs={"visits": Decimal128(str(index % 100))},
            attrMeta={"visits": {"type": "NUMBER"}},
        )
        documents.append(with_channel_types(document))
    return documents


def _installations(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One iOS installation with a push token per user, as saveInstallation stores it."""
    documents = []
    for user in users:
        index = int(user["_id"].removeprefix("user"))
        data = InstallationData(_device_id(index), Platform.IOS, push_token=f"seed-{index}".ljust(64, "0"))
        valid = installation_data.validate(data)
        documents.append(installation_data.new_document(user["appId"], user["_id"], valid, user["createdAt"]))
    return documents


async def _seed_batch(store: Store, batch: list[dict[str, Any]]) -> None:
    """Users, their installations and every registry entry (identifiers and devices)."""
    devices = _installations(batch)
    await store.users.insert_many(batch, ordered=False)
    await store.installations.insert_many(devices, ordered=False)
    entries = _registry_entries(batch) + [
        registry.installation_entry(device["appId"], device["pushRegistrationId"], device["_id"]) for device in devices
    ]
    await registry.collection(store).insert_many(entries, ordered=False)


async def _create_app(data_dir: Path, store_uri: str) -> tuple[str, str]:
    """An app created through the store process: (app id, app token)."""
    master_key = json.loads((data_dir / "secrets.json").read_text())["master_key"]
    store = connect(store_uri, DATABASE, timeout_ms=120_000)
    try:
        _, key = await create_app(store, SecretBox(SecretStr(master_key).get_secret_value()), "scale")
    finally:
        await store.close()
    return key.app_id, tokens.mint(key.secret, {"scope": "app"}, key_id=key.id)


async def _seed_over_the_wire(store_uri: str, app_id: str, users: int) -> None:
    store = connect(store_uri, DATABASE, timeout_ms=120_000)
    try:
        for start in range(0, users, SEED_BATCH):
            await _seed_batch(store, _users(app_id, start, min(users, start + SEED_BATCH)))
    finally:
        await store.close()


def _registry_entries(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"_id": registry_key, "appId": user["appId"], "userId": user["_id"]}
        for user in users
        for registry_key in registry.identifiers_of(user)
    ]


async def _seed_sqlite_file(database_file: Path, app_id: str, users: int) -> None:
    """Users and their identifier-registry entries written into a stopped store's SQLite
    file through mongoeco's own client and the store's engine, after the gateway's indexes
    are created there (in this process, so no driver timeout applies and the gateway's
    start finds them built)."""
    async with MongoecoClient(EmbeddedSQLiteEngine(str(database_file))) as client:
        store = Store(client=client, db=client[DATABASE])
        await indexes.ensure_indexes(store)
        for start in range(0, users, SEED_BATCH):
            await _seed_batch(store, _users(app_id, start, min(users, start + SEED_BATCH)))


async def _send(
    client: httpx.AsyncClient, shape: Shape, call: int, users: int, token: str
) -> tuple[float, int, dict[str, Any]]:
    """One request of ``shape``: (seconds, HTTP status, JSON body)."""
    started = time.perf_counter()
    response = await client.post(
        "/graphql",
        json={"query": shape.query, "variables": shape.variables(call, users)},
        headers={"authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    return time.perf_counter() - started, response.status_code, body


async def _measure(
    client: httpx.AsyncClient,
    shape: Shape,
    users: int,
    calls: int,
    token: str,
    store: psutil.Process,
    gateway: psutil.Process,
) -> tuple[list[float], float, float, str]:
    times = []
    store_before, gateway_before = _cpu(store), _cpu(gateway)
    outcome = "ok"
    for call in range(calls):
        seconds, status, body = await _send(client, shape, call, users, token)
        times.append(seconds)
        if status != 200 or body.get("errors"):
            outcome = f"HTTP {status} {json.dumps(body)[:80]}"
    return times, (_cpu(store) - store_before) / calls, (_cpu(gateway) - gateway_before) / calls, outcome


async def _write_throughput(
    client: httpx.AsyncClient, users: int, token: str, clients: int, seconds: float
) -> tuple[float, float, int]:
    """``clients`` concurrent clients sending single-user writes (an increment, each on a
    user of its own choosing) for ``seconds``: (writes/s, median ms, failed writes)."""
    increment = next(shape for shape in SHAPES if shape.name.startswith("updateCustomAttributes"))
    times: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def one_client(number: int) -> None:
        nonlocal failed
        call = number * 1_000_003
        while time.perf_counter() < deadline:
            call += 1
            seconds, status, body = await _send(client, increment, call, users, token)
            times.append(seconds)
            if status != 200 or body.get("errors") or body["data"]["updateCustomAttributes"]["userErrors"]:
                failed += 1

    began = time.perf_counter()
    await asyncio.gather(*(one_client(number) for number in range(clients)))
    return len(times) / (time.perf_counter() - began), statistics.median(times) * 1000, failed


def _spread(values: list[float], form: str = "{:.2f}") -> str:
    """The median of ``values`` and, in parentheses, their range."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{form.format(middle)} ({form.format(low)} to {form.format(high)})"


def machine_speed_ms() -> float:
    """Milliseconds for a fixed piece of pure-Python work (the best of three): printed
    beside each run, since the same code measures differently as a shared machine's
    speed changes."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        sum(index * index for index in range(2_000_000))
        best = min(best, time.perf_counter() - began)
    return best * 1000


@dataclass(frozen=True)
class Baseline:
    """An endpoint that makes the gateway's ``user(by: {id})`` look-up with less around it."""

    name: str
    module: str  # served by uvicorn as ``<module>:app``
    path: str


BASELINES = [
    Baseline("minimal endpoint (Starlette + PyMongo, bench/minimal.py)", "bench.minimal", "/user-by-id"),
    Baseline(
        "bare Strawberry with its parser and validation caches (bench/bare_strawberry.py)",
        "bench.bare_strawberry",
        "/graphql",
    ),
]


def _start_baseline(baseline: Baseline, store_uri: str, app_id: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A baseline on the same store, served by uvicorn with the same HTTP protocol as the
    gateway: (the process, the URL of its ``user(by: {id})``)."""
    port = free_port()
    env = os.environ | {"BENCH_STORE_URI": store_uri, "BENCH_DATABASE": DATABASE, "BENCH_APP_ID": app_id}
    arguments = ["-m", "uvicorn", f"{baseline.module}:app", "--port", str(port), "--http", "httptools"]
    with log.open("wb") as output:
        command = [sys.executable, *arguments, "--log-level", "warning"]
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    return process, f"http://127.0.0.1:{port}{baseline.path}"


FloorRow = tuple[str, str, str]  # endpoint, CPU ms per call, the gateway's CPU divided by it


async def _cpu_floor(
    client: httpx.AsyncClient,
    rig: Rig,
    args: argparse.Namespace,
    baselines: list[tuple[Baseline, psutil.Process, str]],
    measured: Measured,
) -> list[FloorRow]:
    """The gateway's CPU per ``user(by: {id})`` against each baseline's for the same look-up,
    in rounds that alternate them (so a change in the machine's speed hits all alike): per
    endpoint, its CPU and the gateway's divided by it, each as the median (range) over the
    rounds, and last the load generator's own CPU per request. Every baseline is first checked
    to answer what the gateway answers."""
    shape = next(shape for shape in SHAPES if shape.name == "user(by: {id})")
    expected = (await _send(client, shape, 0, rig.users, rig.token))[2]
    for baseline, _, url in baselines:
        variables = shape.variables(0, rig.users)
        answered = (await client.post(url, json={"query": shape.query, "variables": variables})).json()
        assert answered == expected, f"{baseline.name} answers {answered}, the gateway {expected}"
    targets = [(rig.gateway, f"http://127.0.0.1:{rig.port}/graphql", {"authorization": f"Bearer {rig.token}"})]
    targets += [(process, url, {}) for _, process, url in baselines]
    bodies = [
        json.dumps({"query": shape.query, "variables": shape.variables(call, rig.users)}).encode()
        for call in range(args.floor_calls)
    ]
    clients = args.floor_client.split(",")
    # By load generator, then endpoint; the gateway's event-loop thread alone beside its process.
    cpu: dict[str, list[list[float]]] = {name: [[] for _ in targets] for name in clients}
    generator: dict[str, list[float]] = {name: [] for name in clients}
    main_thread: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(args.floor_rounds):
        for name in clients:
            for index, (process, url, headers) in enumerate(targets):
                gateway = index == 0
                thread = _main_thread_cpu(process) if gateway else 0.0
                before, mine = _cpu(process), time.process_time()
                await FLOOR_CLIENTS[name](client, url, headers, bodies)
                cpu[name][index].append((_cpu(process) - before) / len(bodies) * 1000)
                generator[name].append((time.process_time() - mine) / len(bodies) * 1000)
                if gateway:
                    main_thread[name].append((_main_thread_cpu(process) - thread) / len(bodies) * 1000)
    rows: list[FloorRow] = []
    for name in clients:  # the first is the one judged
        label = "" if name == clients[0] else f"with {name}: "
        gateway_cpu = cpu[name][0]
        for (baseline, _, _), theirs in zip(baselines, cpu[name][1:], strict=True):
            ratios = [ours / base for ours, base in zip(gateway_cpu, theirs, strict=True) if base > 0]
            rows.append((label + baseline.name, _spread(theirs), _spread(ratios) if ratios else "n/a"))
            if ratios and not label:
                measured.cpu_ratios[baseline.module] = statistics.median(ratios)
        rows.append((label + "the gateway", _spread(gateway_cpu), "1"))
        rows.append((f"({label}the gateway's event-loop thread alone)", _spread(main_thread[name]), ""))
        rows.append((f"(the load generator, {name}: this process)", _spread(generator[name]), ""))
    measured.gateway_cpu_ms = statistics.median(cpu[clients[0]][0])
    return rows


async def _light_round(_: httpx.AsyncClient, url: str, headers: dict[str, str], bodies: list[bytes]) -> None:
    """``bodies`` POSTed to ``url`` one after another by bench/loopback.py's client, encoded
    before the round starts."""
    await _light_connections(url, headers, bodies, 1)


async def _light_concurrent_round(_: httpx.AsyncClient, url: str, headers: dict[str, str], bodies: list[bytes]) -> None:
    """The same on 4 connections at once: the server is never idle between two requests."""
    await _light_connections(url, headers, bodies, 4)


async def _light_connections(url: str, headers: dict[str, str], bodies: list[bytes], connections: int) -> None:
    port, _slash, path = url.removeprefix("http://127.0.0.1:").partition("/")
    requests = [encode_post(f"/{path}", body, {"content-type": "application/json", **headers}) for body in bodies]

    async def one(share: list[bytes]) -> None:
        connection = await KeepAliveClient.connect(int(port))
        try:
            for request in share:
                _check_answer(url, *await connection.send(request))
        finally:
            await connection.close()

    await asyncio.gather(*(one(requests[number::connections]) for number in range(connections)))


async def _httpx_round(client: httpx.AsyncClient, url: str, headers: dict[str, str], bodies: list[bytes]) -> None:
    for body in bodies:
        response = await client.post(url, content=body, headers={"content-type": "application/json", **headers})
        _check_answer(url, response.status_code, response.content)


def _check_answer(url: str, status: int, body: bytes) -> None:
    """A CPU round measures answered reads only: any other answer ends the run."""
    if status != 200 or b'"errors"' in body:
        raise AssertionError(f"{url} answered {status}: {body[:200]!r}")


FLOOR_CLIENTS: dict[str, Callable[[httpx.AsyncClient, str, dict[str, str], list[bytes]], Awaitable[None]]] = {
    "light": _light_round,
    "light4": _light_concurrent_round,
    "httpx": _httpx_round,
}


async def _wait_started(
    url: str, process: subprocess.Popen[bytes], log: Path, *, any_answer: bool = False, name: str = "the gateway"
) -> None:
    """Until ``url`` answers 200 (or, with ``any_answer``, answers at all)."""
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited; see {log}")
            with contextlib.suppress(httpx.TransportError):
                status = (await client.get(url)).status_code
                if any_answer or status == 200:
                    return
            await asyncio.sleep(0.5)
    raise SystemExit(f"{name} did not start within {START_SECONDS} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def embedded_store_process(engine: str, prefix: str, timeout_ms: int = 120_000) -> AsyncIterator[Store]:
    """A ``profile-gateway store`` process on a new data directory, and a client of it with the
    gateway's indexes; stopped and removed on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix)) / "data"
    log = data_dir.parent / "store.log"
    process = _start(["store", "--data-dir", str(data_dir), "--engine", engine], dict(os.environ), log)
    try:
        store = connect(await _wait_store(data_dir, process, log), "profile_gateway", timeout_ms=timeout_ms)
        try:
            await indexes.ensure_indexes(store)
            yield store
        finally:
            await store.close()
    finally:
        _stop(process)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


async def _wait_store(data_dir: Path, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while (store_uri := running_store_uri(data_dir)) is None:
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"the store did not start; see {log}")
        await asyncio.sleep(0.1)
    return store_uri


def _start(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen([sys.executable, "-m", "app.cli", *arguments], env=env, stdout=output, stderr=output)


Row = tuple[str, str, str, str, str, str]
GROWTH_CALLS_FROM = 10_000_000


@dataclass
class Rig:
    """One size's running store and gateway, kept up until the run ends so that the sizes can
    be measured in interleaved rounds."""

    users: int
    data_dir: Path
    args: argparse.Namespace
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    store_uri: str = ""
    app_id: str = ""
    token: str = ""
    port: int = 0
    ids: list[str] = field(default_factory=list)  # users' GraphQL ids, read once the gateway runs

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=120)

    @property
    def store(self) -> psutil.Process:
        return psutil.Process(self.started[0].pid)

    @property
    def gateway(self) -> psutil.Process:
        return psutil.Process(self.started[1].pid)


async def start_size(users: int, args: argparse.Namespace) -> Rig:
    """A fresh data directory with ``users`` seeded users, its store and a gateway on it."""
    rig = Rig(users, Path(tempfile.mkdtemp(prefix=f"bench-scale-{users}-")) / "data", args)
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    env |= {
        "PROFILE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "PROFILE_GATEWAY_LOG_FORMAT": "text",
    }
    data_dir, started = rig.data_dir, rig.started
    try:
        store_log = data_dir.parent / "store.log"
        store_command = ["store", "--data-dir", str(data_dir), "--engine", args.engine]
        started.append(_start(store_command, env, store_log))
        rig.store_uri = await _wait_store(data_dir, started[-1], store_log)
        seeding = time.perf_counter()
        rig.app_id, rig.token = await _create_app(data_dir, rig.store_uri)
        if args.engine == "sqlite":
            _stop(started.pop())
            await _seed_sqlite_file(data_dir / "profile-gateway.sqlite", rig.app_id, users)
            started.append(_start(store_command, env, store_log))
            await _wait_store(data_dir, started[-1], store_log)
        else:
            await _seed_over_the_wire(rig.store_uri, rig.app_id, users)
        print(f"  seeded {users} users in {time.perf_counter() - seeding:.1f} s", file=sys.stderr)
        rig.port = free_port()
        serve = ["serve", "--port", str(rig.port), "--data-dir", str(data_dir), "--log-level", "warning"]
        started.append(_start(serve, env, data_dir.parent / "gateway.log"))
        await _wait_started(f"http://127.0.0.1:{rig.port}/readyz", started[1], data_dir.parent / "gateway.log")
        async with rig.client() as client:
            page = await client.post(
                "/graphql",
                json={"query": "{ users(first: 100) { nodes { id } } }"},
                headers={"authorization": f"Bearer {rig.token}"},
            )
        rig.ids = [node["id"] for node in page.json()["data"]["users"]["nodes"]]
        return rig
    except BaseException:
        stop_size(rig)
        raise


def stop_size(rig: Rig) -> None:
    for process in reversed(rig.started):
        _stop(process)
    if not rig.args.keep:
        shutil.rmtree(rig.data_dir.parent, ignore_errors=True)


async def measure_size(rig: Rig, args: argparse.Namespace) -> tuple[list[Row], list[FloorRow], Measured]:
    """One size's table (each shape in turn), its write throughput and its CPU floor."""
    users, token, store, gateway = rig.users, rig.token, rig.store, rig.gateway
    _GLOBAL_IDS[:] = rig.ids
    rows: list[Row] = []
    floor: list[FloorRow] = []
    measured = Measured(users)
    async with rig.client() as client:
        for shape in SHAPES:
            calls = args.write_calls if shape.write else args.calls
            times, store_cpu, gateway_cpu, outcome = await _measure(client, shape, users, calls, token, store, gateway)
            p90 = sorted(times)[max(0, int(len(times) * 0.9) - 1)]
            measured.median_seconds[shape.name] = statistics.median(times)
            rows.append(
                (
                    shape.name,
                    f"{statistics.median(times) * 1000:,.0f}",
                    f"{p90 * 1000:,.0f}",
                    f"{store_cpu * 1000:,.1f}",
                    f"{gateway_cpu * 1000:,.1f}",
                    outcome,
                )
            )
        if args.write_seconds > 0:
            rounds = [
                await _write_throughput(client, users, token, args.clients, args.write_seconds)
                for _ in range(args.write_rounds)
            ]
            rates = [rate for rate, _, _ in rounds]
            measured.writes_per_second = statistics.median(rates)
            failed = sum(failures for _, _, failures in rounds)
            name = f"single-user writes, {args.clients} concurrent clients, {len(rounds)} rounds"
            median = statistics.median(median for _, median, _ in rounds)
            outcome = "ok" if failed == 0 else f"{failed} failed"
            rows.append((name, f"{median:,.0f}", "", f"**{_spread(rates, '{:,.1f}')} writes/s**", "", outcome))
        if args.floor_rounds > 0:
            baselines = []
            for baseline in BASELINES:
                log = rig.data_dir.parent / f"{baseline.module}.log"
                process, url = _start_baseline(baseline, rig.store_uri, rig.app_id, log)
                rig.started.append(process)
                await _wait_started(url, process, log, any_answer=True, name=baseline.name)
                baselines.append((baseline, psutil.Process(process.pid), url))
            floor = await _cpu_floor(client, rig, args, baselines, measured)
            for _ in baselines:  # not needed for the interleaved rounds
                _stop(rig.started.pop())
    return rows, floor, measured


async def growth_rounds(smallest: Rig, largest: Rig, args: argparse.Namespace) -> Growth:
    """The judged shapes at both sizes in ``--growth-rounds`` rounds, each round sending
    ``--growth-calls`` of every shape to one size and then the other (the order alternating),
    so that a change in the machine's speed hits both sizes alike: per shape and round, the
    median time at each size."""
    growth = Growth(smallest.users, largest.users)
    shapes = [shape for shape in SHAPES if shape.name in LOOK_UPS + WRITES]
    async with smallest.client() as small, largest.client() as large:
        pair = [(smallest, small), (largest, large)]
        for number in range(args.growth_rounds):
            for shape in shapes:
                medians: dict[int, float] = {}
                for rig, client in pair if number % 2 == 0 else reversed(pair):
                    times = []
                    for call in range(args.growth_calls):
                        # Numbered past the tables' calls: every write is a new one.
                        sequence = GROWTH_CALLS_FROM + number * args.growth_calls + call
                        seconds, status, body = await _send(client, shape, sequence, rig.users, rig.token)
                        if status != 200 or body.get("errors"):
                            raise SystemExit(f"{shape.name} at {rig.users} users: HTTP {status} {body}")
                        times.append(seconds)
                    medians[rig.users] = statistics.median(times)
                growth.add(shape.name, medians[smallest.users], medians[largest.users])
    return growth


def _print(users: int, rows: list[Row], floor: list[FloorRow], rounds: int) -> None:
    print(f"\n### {users:,} users\n")
    print("| request | median ms | p90 ms | store CPU ms/call | gateway CPU ms/call | outcome |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if floor:
        print(f"\nCPU per `user(by: {{id}}) {{ id }}` (a cached simple read), {rounds} alternating rounds:\n")
        print("| endpoint | CPU ms/call | gateway CPU / endpoint CPU |")
        print("|---|---:|---:|")
        for floor_row in floor:
            print("| " + " | ".join(floor_row) + " |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated numbers of users")
    parser.add_argument("--calls", type=int, default=20, help="calls per read shape")
    parser.add_argument(
        "--write-calls", type=int, default=20, help="calls per write shape (a median of 5 moved by 1.8x between runs)"
    )
    parser.add_argument(
        "--growth-rounds", type=int, default=5, help="interleaved rounds at the smallest and largest size (0: none)"
    )
    parser.add_argument("--growth-calls", type=int, default=10, help="calls per shape, size and growth round")
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep each size's data directory and logs")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the write-throughput phase")
    parser.add_argument("--write-seconds", type=float, default=10, help="length of each write round (0: none)")
    parser.add_argument("--write-rounds", type=int, default=3, help="rounds of the write-throughput phase")
    parser.add_argument("--floor-calls", type=int, default=300, help="requests per target and round")
    parser.add_argument(
        "--floor-client",
        default="light",
        help="the CPU rounds' load generators, comma-separated, alternating in each round, the first judged: "
        "light (bench/loopback.py), light4 (the same on 4 connections at once) or httpx (as before 2026-12-05)",
    )
    parser.add_argument(
        "--floor-rounds", type=int, default=6, help="rounds of user(by: {id}) against the baselines (0: none)"
    )
    args = parser.parse_args()
    if unknown := set(args.floor_client.split(",")) - set(FLOOR_CLIENTS):
        parser.error(f"--floor-client: unknown {', '.join(sorted(unknown))}; known: {', '.join(FLOOR_CLIENTS)}")
    # Stopped from outside (SIGTERM), still stop the store and gateway processes started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"Embedded store ({args.engine}) in its own process; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    runs: list[Measured] = []
    rigs: list[Rig] = []
    try:
        for users in (int(size) for size in args.sizes.split(",")):
            rigs.append(await start_size(users, args))
            speed_before = machine_speed_ms()
            rows, floor, measured = await measure_size(rigs[-1], args)
            runs.append(measured)
            _print(users, rows, floor, args.floor_rounds)
            speeds = f"{speed_before:.0f} ms before, {machine_speed_ms():.0f} ms after"
            print(f"\nmachine speed: a fixed pure-Python loop took {speeds} (lower is faster)")
        growth = None
        if len(rigs) > 1 and args.growth_rounds > 0:
            smallest, largest = min(rigs, key=lambda rig: rig.users), max(rigs, key=lambda rig: rig.users)
            growth = await growth_rounds(smallest, largest, args)
            print_growth(growth)
        print_targets(runs, growth)
    finally:
        for rig in reversed(rigs):
            stop_size(rig)


if __name__ == "__main__":
    asyncio.run(main())
