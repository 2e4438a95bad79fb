"""A user's history page against the length of that user's history.

Every change of a profile appends a history event, so an active user's history only grows.
``profile-gateway store`` runs the embedded store (SQLite engine, the default) as its own
process; one user's history is grown to each size in turn (other users' events beside it),
and at each size the benchmark times the command the gateway sends for ``history(first: 20)``
(``app/store/history.pages``, one aggregate) for the newest page and for the page after a
cursor, as medians of ``--calls`` calls, with the ratio to the smallest size.

    python -m bench.history_depth --sizes 100,1000,10000,30000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from app.store import history
from app.store.client import Store, connect
from app.store.indexes import ensure_indexes
from bench.scale import _start, _stop, _wait_store

APP = "app_bench"
HEAVY = "heavy-user"
PAGE = 20
BATCH = 1_000


def _events(user_id: str, count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {"_id": history.new_event_id(), "appId": APP, "userId": user_id, "kind": "UPDATED", "at": now}
        for _ in range(count)
    ]


async def _grow(store: Store, count: int) -> None:
    """``count`` more events for the heavy user, and as many for ten other users."""
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        await store.history.insert_many(_events(HEAVY, size))
        await store.history.insert_many([e for n in range(10) for e in _events(f"other-{n}", max(1, size // 10))])


async def _median_ms(call: Callable[[], Awaitable[object]], calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000,30000", help="the heavy user's number of events")
    parser.add_argument("--calls", type=int, default=20, help="calls per page and size")
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    data_dir = Path(tempfile.mkdtemp(prefix="bench-history-")) / "data"
    log = data_dir.parent / "store.log"
    process = _start(["store", "--data-dir", str(data_dir), "--engine", args.engine], dict(os.environ), log)
    try:
        store = connect(await _wait_store(data_dir, process, log), "profile_gateway", timeout_ms=120_000)
        try:
            await ensure_indexes(store)
            print(f"Embedded store ({args.engine}) in its own process; medians of {args.calls} calls\n")
            print("| events of the user | newest page, ms | page after a cursor, ms | ratio to the smallest size |")
            print("|---:|---:|---:|---:|")
            grown, first_ms = 0, 0.0
            for size in sizes:
                await _grow(store, size - grown)
                grown = size
                newest = await history.pages(store, APP, [HEAVY], PAGE, None)
                cursor = str(newest[0][0][-1]["_id"])
                page_ms = await _median_ms(partial(history.pages, store, APP, [HEAVY], PAGE, None), args.calls)
                after_ms = await _median_ms(partial(history.pages, store, APP, [HEAVY], PAGE, cursor), args.calls)
                first_ms = first_ms or page_ms
                print(f"| {size:,} | {page_ms:.1f} | {after_ms:.1f} | {page_ms / first_ms:.2f} |")
        finally:
            await store.close()
    finally:
        _stop(process)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
