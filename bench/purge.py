"""What deleting (or rewriting) an owner's past costs the store's other writers: retention, an
erased user's history and tombstones, a merged user's history, an endpoint's deliveries
redelivered.

``profile-gateway store`` runs the embedded store (SQLite engine, the default) as its own
process. For each size, the same documents are deleted twice, side by side in one run, while
a writer updates one document every 10 ms and records how long each update took:

- ``one command``: what the gateway sent before housekeeping, one ``delete_many`` with the
  owner's selector (``occurredAt`` before the cutoff for retention, ``userId`` for history,
  ``mergedInto`` for tombstones),
  for a merge one ``update_many`` giving the source's history to the target, and for a
  redelivery one ``update_many`` making the endpoint's deliveries since a time pending;
- ``housekeeping``: ``app/domain/housekeeping.py``, round after round until nothing is left,
  with the dispatcher's pause between rounds.

It prints, per size: the whole deletion's time, and the writer's longest and median update
during it (the longest is how long a request's write waited). Then a retention pass with
nothing past retention, against the number of change events in the store.

    python -m bench.purge --sizes 1000,4000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.housekeeping import Housekeeping
from app.store import history, outbox, purges, redeliveries, webhooks
from app.store.client import Store
from bench.scale import embedded_store_process

BATCH = 1_000
RETENTION_DAYS = 30
ROUND_PAUSE = 0.2  # the dispatcher's busy poll delay between rounds


class Writer:
    """Updates one document every 10 ms and records each update's time (ms)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.times: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            await self.store.db["bench_writer"].update_one({"_id": "w"}, {"$inc": {"n": 1}}, upsert=True)
            self.times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()


async def _under_writer(store: Store, deletion: Callable[[], Awaitable[object]]) -> tuple[float, float, float]:
    """The deletion's seconds, and the writer's longest and median update (ms) meanwhile."""
    writer = Writer(store)
    running = asyncio.create_task(writer.run())
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    await deletion()
    elapsed = time.perf_counter() - started
    writer.stop()
    await running
    return elapsed, max(writer.times), statistics.median(writer.times)


async def _housekeeping_until_done(store: Store) -> None:
    housekeeping = Housekeeping(store, RETENTION_DAYS, first_retention_after=timedelta(0))
    deleted = await housekeeping.run(datetime.now(UTC))
    while deleted > 0:
        await asyncio.sleep(ROUND_PAUSE)
        deleted = await housekeeping.run(datetime.now(UTC))


def _entries(app_id: str, start: int, count: int, occurred_at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "_id": outbox.entry_id(app_id, seq),
            "appId": app_id,
            "seq": seq,
            "id": f"evt_{app_id}_{seq}",
            "type": "user.updated",
            "userId": "u",
            "occurredAt": occurred_at,
        }
        for seq in range(start, start + count)
    ]


async def _insert(store: Store, collection: str, documents: list[dict[str, Any]]) -> None:
    for start in range(0, len(documents), BATCH):
        await store.db[collection].insert_many(documents[start : start + BATCH])


async def _seed_expired_events(store: Store, app_id: str, count: int) -> None:
    """``count`` change events past retention, then as many recent ones (the app's counter too)."""
    now = datetime.now(UTC)
    await _insert(store, "outbox", _entries(app_id, 1, count, now - timedelta(days=RETENTION_DAYS + 1)))
    await _insert(store, "outbox", _entries(app_id, count + 1, count, now))
    await outbox.counters(store).replace_one({"_id": app_id}, {"_id": app_id, "seq": 2 * count}, upsert=True)


async def _seed_history(store: Store, app_id: str, user_id: str, count: int) -> None:
    now = datetime.now(UTC)
    events = [
        {"_id": history.new_event_id(), "appId": app_id, "userId": user_id, "kind": "UPDATED", "at": now}
        for _ in range(count)
    ]
    await _insert(store, "history", events)


async def _retention(store: Store, size: int) -> list[str]:
    cutoff = datetime.now(UTC) - timedelta(days=RETENTION_DAYS)
    await _seed_expired_events(store, f"app_old_{size}", size)
    before = await _under_writer(store, lambda: outbox.events(store).delete_many({"occurredAt": {"$lt": cutoff}}))
    await _seed_expired_events(store, f"app_new_{size}", size)
    after = await _under_writer(store, lambda: _housekeeping_until_done(store))
    if await outbox.events(store).count_documents({"occurredAt": {"$lt": cutoff}}):
        raise SystemExit("housekeeping left change events past retention")
    return _both_ways(f"retention, {size:,} events past it", before, after)


async def _erasure(store: Store, size: int) -> list[str]:
    await _seed_history(store, "app_h", f"old_{size}", size)
    selector = {"appId": "app_h", "userId": f"old_{size}"}
    before = await _under_writer(store, lambda: store.history.delete_many(selector))
    await _seed_history(store, "app_h", f"new_{size}", size)
    await purges.collection(store).insert_one(
        {"_id": f"history|app_h|new_{size}", "target": "history", "owner": ["app_h", f"new_{size}"]}
    )
    after = await _under_writer(store, lambda: _housekeeping_until_done(store))
    if await store.history.count_documents({"appId": "app_h"}):
        raise SystemExit("housekeeping left an erased user's history")
    return _both_ways(f"an erased user's {size:,} events", before, after)


async def _tombstones(store: Store, size: int) -> list[str]:
    """An erased user's tombstones (the users it absorbed: one per login on a fresh lead)."""
    for name in (f"old_{size}", f"new_{size}"):
        tombstones = [{"_id": f"{name}_t{n}", "appId": "app_t", "mergedInto": name} for n in range(size)]
        await _insert(store, "users", tombstones)
    before = await _under_writer(
        store, lambda: store.users.delete_many({"appId": "app_t", "mergedInto": f"old_{size}"})
    )
    owner = ["app_t", f"new_{size}"]
    await purges.collection(store).insert_one(
        {"_id": purges.purge_id("users", owner), "target": "users", "owner": owner}
    )
    after = await _under_writer(store, lambda: _housekeeping_until_done(store))
    if await store.users.count_documents({"appId": "app_t"}):
        raise SystemExit("housekeeping left an erased user's tombstones")
    return _both_ways(f"an erased user's {size:,} tombstones", before, after)


async def _merge(store: Store, size: int) -> list[str]:
    """A merged user's history moving to the user that absorbed it."""
    await _seed_history(store, "app_m", f"old_source_{size}", size)
    selector = {"appId": "app_m", "userId": f"old_source_{size}"}
    before = await _under_writer(store, lambda: store.history.update_many(selector, {"$set": {"userId": "old_t"}}))
    await _seed_history(store, "app_m", f"new_source_{size}", size)
    await purges.collection(store).insert_one(
        {
            "_id": purges.purge_id(purges.HISTORY_MOVE, ["app_m", f"new_source_{size}"]),
            "target": purges.HISTORY_MOVE,
            "owner": ["app_m", f"new_source_{size}"],
            "to": "new_t",
        }
    )
    after = await _under_writer(store, lambda: _housekeeping_until_done(store))
    if await store.history.count_documents({"appId": "app_m", "userId": f"new_source_{size}"}):
        raise SystemExit("housekeeping left a merged user's history behind")
    return _both_ways(f"a merged user's {size:,} events, moved", before, after)


def _deliveries(endpoint_id: str, count: int) -> list[dict[str, Any]]:
    occurred = datetime.now(UTC) - timedelta(hours=1)
    return [
        {
            "_id": webhooks.delivery_id(endpoint_id, seq),
            "endpointId": endpoint_id,
            "seq": seq,
            "status": webhooks.SUCCEEDED,
            "occurredAt": occurred,
        }
        for seq in range(1, count + 1)
    ]


async def _redelivery(store: Store, size: int) -> list[str]:
    """An endpoint's deliveries of the last day, made pending again."""
    since = datetime.now(UTC) - timedelta(days=1)
    await _insert(store, "webhook_deliveries", _deliveries(f"old_ep_{size}", size))
    pending = {"$set": {"status": webhooks.PENDING, "attempts": 0}}
    selector = {"endpointId": f"old_ep_{size}", "occurredAt": {"$gte": since}}
    before = await _under_writer(store, lambda: webhooks.deliveries(store).update_many(selector, pending))
    endpoint_id = f"new_ep_{size}"
    await _insert(store, "webhook_deliveries", _deliveries(endpoint_id, size))

    async def walk() -> None:
        walked = await redeliveries.schedule(store, "app_r", endpoint_id, since, datetime.now(UTC))
        if walked is not None:
            await redeliveries.run_batch(store, walked, datetime.now(UTC))  # the call's own batch
            await _housekeeping_until_done(store)

    after = await _under_writer(store, walk)
    left = {"endpointId": endpoint_id, "status": {"$ne": webhooks.PENDING}}
    if await webhooks.deliveries(store).count_documents(left):
        raise SystemExit("housekeeping left deliveries of a redelivery behind")
    return _both_ways(f"an endpoint's {size:,} deliveries, redelivered", before, after)


def _both_ways(what: str, before: tuple[float, float, float], after: tuple[float, float, float]) -> list[str]:
    """The rows of one case: one command, then housekeeping."""
    return [_row(what, "one command", before), _row(what, "housekeeping", after)]


def _row(what: str, how: str, measured: tuple[float, float, float]) -> str:
    elapsed, longest, median = measured
    return f"| {what} | {how} | {elapsed:.2f} | {longest:,.0f} | {median:.1f} |"


async def _idle_pass(store: Store, sizes: list[int]) -> None:
    """A retention pass with nothing past retention, as the store's change events grow."""
    print("\n### A retention pass with nothing past retention (ms)\n")
    print("| change events in the store | one command | housekeeping |")
    print("|---:|---:|---:|")
    cutoff = datetime.now(UTC) - timedelta(days=RETENTION_DAYS)
    grown = 0
    for size in sizes:
        await _insert(store, "outbox", _entries("app_idle", grown + 1, size - grown, datetime.now(UTC)))
        await outbox.counters(store).replace_one({"_id": "app_idle"}, {"_id": "app_idle", "seq": size}, upsert=True)
        grown = size
        started = time.perf_counter()
        await outbox.events(store).delete_many({"occurredAt": {"$lt": cutoff}})
        middle = time.perf_counter()
        await Housekeeping(store, RETENTION_DAYS, first_retention_after=timedelta(0)).run(datetime.now(UTC))
        ended = time.perf_counter()
        print(f"| {size:,} | {(middle - started) * 1000:.0f} | {(ended - middle) * 1000:.0f} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,4000", help="documents deleted per case")
    parser.add_argument("--idle-sizes", default="10000,40000", help="change events in the store for the idle pass")
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    async with embedded_store_process(args.engine, "bench-purge-", timeout_ms=300_000) as store:
        print(f"Embedded store ({args.engine}) in its own process; a writer updates one document every 10 ms")
        print("\n| deleted | how | seconds | writer's longest update (ms) | writer's median update (ms) |")
        print("|---|---|---:|---:|---:|")
        for size in sorted(int(size) for size in args.sizes.split(",")):
            cases = (_retention, _erasure, _tombstones, _merge, _redelivery)
            for case in cases:
                for row in await case(store, size):
                    print(row, flush=True)
        await _idle_pass(store, sorted(int(size) for size in args.idle_sizes.split(",")))


if __name__ == "__main__":
    asyncio.run(main())
