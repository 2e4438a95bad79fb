"""Reads that once grew with one thing's past: a user's history, an endpoint's deliveries.

Every change of a profile appends a history event, and every change event becomes a delivery
for each webhook endpoint, so both only grow (up to the retention). ``profile-gateway store``
runs the embedded store (SQLite engine, the default) as its own process. For each size in
turn, the benchmark grows the data and times the commands the gateway sends, as medians of
``--calls`` calls, with the ratio to the smallest size:

- ``history``: one user's history grows to the size (ten other users' events beside it);
  ``history(first: 20)``, newest page and the page after a cursor (``app/store/history.pages``);
- ``deliveries``: the store's deliveries grow to the size, over five endpoints (a few
  pending); a write comes before each read, as in production (mongoeco forgets what it knew
  of a collection's field types at every write): the dispatcher's round read
  (``endpoints_with_due_deliveries``), an endpoint's pending deliveries (``pending``) and a
  page of its deliveries (``page``), from ``app/store/webhooks.py``.

    python -m bench.depth --sizes 100,1000,10000,30000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from app.store import history, webhooks
from app.store.client import Store
from bench.scale import embedded_store_process

APP = "app_bench"
HEAVY = "heavy-user"
PAGE = 20
BATCH = 1_000
ENDPOINTS = [f"endpoint-{n}" for n in range(5)]


def _events(user_id: str, count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {"_id": history.new_event_id(), "appId": APP, "userId": user_id, "kind": "UPDATED", "at": now}
        for _ in range(count)
    ]


async def _grow_history(store: Store, count: int) -> None:
    """``count`` more events for the heavy user, and as many for ten other users."""
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        await store.history.insert_many(_events(HEAVY, size))
        await store.history.insert_many([e for n in range(10) for e in _events(f"other-{n}", max(1, size // 10))])


class Deliveries:
    """Deliveries as the dispatcher writes them, numbered per endpoint."""

    def __init__(self) -> None:
        self.seq = dict.fromkeys(ENDPOINTS, 0)

    def one(self, endpoint: str, status: str) -> dict[str, Any]:
        self.seq[endpoint] += 1
        now = datetime.now(UTC)
        return {
            "_id": webhooks.delivery_id(endpoint, self.seq[endpoint]),
            "endpointId": endpoint,
            "seq": self.seq[endpoint],
            "status": status,
            "attempts": 0,
            "occurredAt": now,
            "nextAttemptAt": now - timedelta(seconds=1),
            "leaseUntil": now - timedelta(seconds=1),
        }

    async def grow(self, store: Store, count: int) -> None:
        """``count`` more delivered deliveries over the endpoints, then five pending ones."""
        spread = itertools.cycle(ENDPOINTS)
        for start in range(0, count, BATCH):
            batch = [self.one(next(spread), "DELIVERED") for _ in range(min(BATCH, count - start))]
            await webhooks.insert_deliveries(store, batch)
        await webhooks.insert_deliveries(store, [self.one(ENDPOINTS[0], webhooks.PENDING) for _ in range(5)])


async def _median_ms(
    call: Callable[[], Awaitable[object]], calls: int, before: Callable[[], Awaitable[object]]
) -> float:
    times = []
    for _ in range(calls):
        await before()
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _nothing() -> None:
    return None


def _row(size: int, times: list[float], smallest: list[float]) -> str:
    ratios = " | ".join(f"{now / first:.2f}" for now, first in zip(times, smallest, strict=True))
    return f"| {size:,} | " + " | ".join(f"{value:.1f}" for value in times) + f" | {ratios} |"


async def _history(store: Store, sizes: list[int], calls: int) -> None:
    print("\n### A user's history page (ms; then each against the smallest size)\n")
    print("| events of the user | newest page | after a cursor | ratio: newest | ratio: after a cursor |")
    print("|---:|---:|---:|---:|---:|")
    grown = 0
    smallest: list[float] = []
    for size in sizes:
        await _grow_history(store, size - grown)
        grown = size
        cursor = str((await history.pages(store, APP, [HEAVY], PAGE, None))[0][0][-1]["_id"])
        times = [
            await _median_ms(partial(history.pages, store, APP, [HEAVY], PAGE, after), calls, _nothing)
            for after in (None, cursor)
        ]
        smallest = smallest or times
        print(_row(size, times, smallest))


async def _deliveries(store: Store, sizes: list[int], calls: int) -> None:
    print("\n### The webhook dispatcher's reads (ms, each after a write; then each against the smallest size)\n")
    print("| deliveries | round read | pending | page | ratio: round read | ratio: pending | ratio: page |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    made, grown = Deliveries(), 0
    smallest: list[float] = []
    endpoint = ENDPOINTS[0]

    async def write() -> None:
        await webhooks.insert_deliveries(store, [made.one(ENDPOINTS[1], "DELIVERED")])

    async def round_read() -> None:
        await webhooks.endpoints_with_due_deliveries(store, ENDPOINTS, datetime.now(UTC))

    for size in sizes:
        await made.grow(store, size - grown)
        grown = size
        reads: list[Callable[[], Awaitable[object]]] = [
            round_read,
            partial(webhooks.pending, store, endpoint, 50),
            partial(webhooks.page, store, endpoint, 0, PAGE, None),
        ]
        times = [await _median_ms(read, calls, write) for read in reads]
        smallest = smallest or times
        print(_row(size, times, smallest))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000,30000", help="events of the user; deliveries of the store")
    parser.add_argument("--calls", type=int, default=20, help="calls per read and size")
    parser.add_argument("--what", default="history,deliveries", help="which reads: history, deliveries or both")
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    async with embedded_store_process(args.engine, "bench-depth-", timeout_ms=120_000) as store:
        print(f"Embedded store ({args.engine}) in its own process; medians of {args.calls} calls")
        if "history" in args.what:
            await _history(store, sizes, args.calls)
        if "deliveries" in args.what:
            await _deliveries(store, sizes, args.calls)


if __name__ == "__main__":
    asyncio.run(main())
