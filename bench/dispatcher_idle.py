"""What an idle webhook dispatcher costs its store, by number of enabled endpoints.

    python -m bench.dispatcher_idle [--endpoints 0,1,10,50] [--seconds 10]

Every gateway process runs a dispatcher, so its rounds cost the store something even when
there is nothing to send. This starts ``profile-gateway store`` (the embedded store as its
own process, so that its CPU can be read apart) and, for each number of endpoints, in a
fresh database: creates that many enabled endpoints in as many apps, each with its app's
events already fanned out (nothing to send), runs one dispatcher at its default settings
for ``--seconds``, and prints the rounds it ran, the store commands per round and per
second, and the store's CPU milliseconds per second. The commands per round should not grow
with the endpoints; at 0 endpoints the dispatcher looks at its idle rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import psutil
from cryptography.fernet import Fernet
from pydantic import SecretStr
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from app.config import Settings
from app.crypto import SecretBox
from app.domain import webhooks
from app.domain.webhooks_dispatcher import Dispatcher
from app.store import outbox
from app.store.client import Store, connect
from app.store.indexes import ensure_indexes
from bench.scale import _start, _stop, _wait_store

HOUSEKEEPING = frozenset({"endSessions", "killCursors", "hello", "isMaster", "ismaster", "ping"})


class Commands(CommandListener):
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name not in HOUSEKEEPING:
            self.sent[f"{event.command_name} {event.command.get(event.command_name)}"] += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


async def _with_endpoints(store: Store, box: SecretBox, settings: Settings, count: int) -> None:
    deliverer = Dispatcher(store, box, settings)
    for number in range(count):
        app_id = f"app_{number}"
        await outbox.counters(store).insert_one({"_id": app_id, "seq": 100})  # events before the endpoint
        url = "https://1.1.1.1/hooks"  # never called: nothing is pending
        await webhooks.create(store, box, deliverer.policy, app_id, url, None, None, 10)


async def measure(store_uri: str, master_key: str, count: int, seconds: float, process: psutil.Process) -> str:
    box = SecretBox(master_key)
    database = f"dispatcher_idle_{secrets.token_hex(4)}"
    commands = Commands()
    store = connect(store_uri, database, timeout_ms=60_000, listeners=[commands])
    settings = Settings(
        mongodb_uri=store_uri,
        database_name=database,
        master_key=SecretStr(master_key),
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
    )
    try:
        await ensure_indexes(store)
        await _with_endpoints(store, box, settings, count)
        deliverer = Dispatcher(store, box, settings)
        await deliverer.run_once()  # the first round also purges past retention
        commands.sent.clear()
        cpu = sum(process.cpu_times()[:2])
        task = asyncio.create_task(deliverer.run())
        await asyncio.sleep(seconds)
        deliverer.stop()
        await task
        store_ms = (sum(process.cpu_times()[:2]) - cpu) * 1000 / seconds
        rounds = commands.sent["find webhook_endpoints"]
        total = sum(commands.sent.values())
        per_round = total / rounds if rounds else 0
        return f"| {count} | {rounds} | {per_round:.1f} | {total / seconds:.1f} | {store_ms:.0f} |"
    finally:
        await store.client.drop_database(database)
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", default="0,1,10,50", help="comma-separated numbers of enabled endpoints")
    parser.add_argument("--seconds", type=float, default=10, help="how long the dispatcher runs per size")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-dispatcher-")) / "data"
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    log = data_dir.parent / "store.log"
    process = _start(["store", "--data-dir", str(data_dir)], env, log)
    try:
        store_uri = await _wait_store(data_dir, process, log)
        master_key = Fernet.generate_key().decode()
        print(f"One dispatcher at its default settings, {args.seconds:g} s per size; {os.cpu_count()} CPUs")
        print("\n| enabled endpoints | rounds | store commands per round | per second | store CPU ms per second |")
        print("|---:|---:|---:|---:|---:|")
        for count in (int(size) for size in args.endpoints.split(",")):
            print(await measure(store_uri, master_key, count, args.seconds, psutil.Process(process.pid)), flush=True)
    finally:
        _stop(process)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
