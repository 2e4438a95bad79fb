"""What the retention of anonymous leads costs as an app's users grow (``app/domain/lead_retention.py``).

``profile-gateway store`` runs the embedded store (SQLite engine, the default) as its own
process. Per size, one app holds that many customers (stored directly, as an import leaves
them) and ``--leads`` anonymous leads registered by their devices (``saveInstallation``'s unit of
work: user, installation, session, registry entry, history, change event). Housekeeping then
runs two passes over the app, round after round with the dispatcher's pause between rounds,
while a writer updates one document every 10 ms:

- ``nothing idle``: the retention has not passed for anyone; the pass only reads;
- ``every lead idle``: a day later than the retention; the pass erases every lead.

Per size and pass it prints the pass's seconds, its steps (reads of up to 200 users) and their
median time (with the erasures it made), the erasures' median time, and the writer's longest and median update (the
longest is how long a request's write waited). Then each time at the largest size divided by
the smallest's, for a step that erases nothing and for an erasure: neither should grow with the
app.

    python -m bench.lead_sweep --sizes 1000,10000 --leads 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.domain import devices, lead_retention
from app.domain.actor import Actor
from app.domain.housekeeping import Housekeeping
from app.domain.installation_data import InstallationData, Platform
from app.domain.users import new_user_id
from app.store import schedules
from app.store.client import Store
from bench.purge import ROUND_PAUSE, Writer, _insert
from bench.scale import embedded_store_process

RETENTION_DAYS = 30


@dataclass
class Timed:
    """The pass's steps and erasures, timed (ms), by wrapping the two functions it calls."""

    steps: list[float] = field(default_factory=list)
    erasures: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Pass:
    seconds: float
    steps: list[float]
    erasures: list[float]
    writer_longest: float
    writer_median: float


async def _seed(store: Store, app_id: str, customers: int, leads: int) -> None:
    now = datetime.now(UTC)
    await store.apps.insert_one({"_id": app_id, "name": app_id})
    await _insert(
        store,
        "users",
        [
            {"_id": new_user_id(), "appId": app_id, "type": "CUSTOMER", "externalUserId": f"c{n}", "updatedAt": now}
            for n in range(customers)
        ],
    )
    for n in range(leads):
        data = InstallationData(push_registration_id=f"{app_id}-lead-{n}", platform=Platform.IOS)
        await devices.save_installation(store, app_id, Actor("anonymous"), data, may_update=False, issue_session=True)


async def _drain(store: Store) -> None:
    """Finish what earlier passes left to housekeeping (their erased leads' history), so that
    a pass's time is its own."""
    housekeeping = Housekeeping(store, 36_500, first_retention_after=timedelta(0))
    while await housekeeping.run(datetime.now(UTC)) > 0:
        pass


async def _pass(store: Store, now: datetime) -> Pass:
    """One pass of housekeeping at ``now``, round after round, under the writer."""
    await _drain(store)
    # Each pass is a day's: the claim of the one before (at another ``now``) is forgotten.
    await schedules.collection(store).delete_many({})
    timed = Timed()
    step, erase = lead_retention.sweep_step, lead_retention.erase_if_idle

    async def timed_step(*args: object) -> lead_retention.Step:
        started = time.perf_counter()
        result = await step(*args)  # type: ignore[arg-type]
        timed.steps.append((time.perf_counter() - started) * 1000)
        return result

    async def timed_erase(*args: object) -> bool:
        started = time.perf_counter()
        result = await erase(*args)  # type: ignore[arg-type]
        timed.erasures.append((time.perf_counter() - started) * 1000)
        return result

    lead_retention.sweep_step, lead_retention.erase_if_idle = timed_step, timed_erase  # type: ignore[assignment]
    writer = Writer(store)
    running = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(0.1)
        housekeeping = Housekeeping(
            store, 36_500, lead_retention_days=RETENTION_DAYS, first_retention_after=timedelta(0)
        )
        started = time.perf_counter()
        touched = await housekeeping.run(now)
        while touched > 0:
            await asyncio.sleep(ROUND_PAUSE)
            touched = await housekeeping.run(now)
        elapsed = time.perf_counter() - started
    finally:
        lead_retention.sweep_step, lead_retention.erase_if_idle = step, erase
        writer.stop()
        await running
    # The idle rounds' pauses are the dispatcher's, not the pass's work.
    return Pass(elapsed, timed.steps, timed.erasures, max(writer.times), statistics.median(writer.times))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="customers in the app, per size")
    parser.add_argument("--leads", type=int, default=200, help="anonymous leads in the app, per size")
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    medians: dict[tuple[int, str], tuple[float, float]] = {}
    async with embedded_store_process(args.engine, "bench-leads-", timeout_ms=300_000) as store:
        print(f"Embedded store ({args.engine}) in its own process; a writer updates one document every 10 ms\n")
        print(
            "| customers | leads | pass | seconds | steps | step median ms (its erasures included) | erasure median ms"
            " | writer's longest update ms | writer's median ms |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            app_id = f"app_leads_{size}"
            await _seed(store, app_id, size, args.leads)
            now = datetime.now(UTC)
            for name, at in (("nothing idle", now), ("every lead idle", now + timedelta(days=RETENTION_DAYS + 1))):
                measured = await _pass(store, at)
                medians[(size, name)] = (_median(measured.steps), _median(measured.erasures))
                print(
                    f"| {size:,} | {args.leads} | {name} | {measured.seconds:.2f} | {len(measured.steps)}"
                    f" | {_median(measured.steps):.1f} | {_median(measured.erasures):.1f}"
                    f" | {measured.writer_longest:.0f} | {measured.writer_median:.1f} |",
                    flush=True,
                )
            left = await store.users.count_documents({"appId": app_id, "type": "LEAD"})
            if left:
                raise SystemExit(f"{left} leads were left at {size:,} customers")
            # The next size's passes walk its own app only.
            await store.apps.delete_one({"_id": app_id})
            await store.users.delete_many({"appId": app_id})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nratio of medians, {large:,} ÷ {small:,} customers (steps should not grow with the app):")
        step_small, step_large = medians[(small, "nothing idle")][0], medians[(large, "nothing idle")][0]
        erase_small, erase_large = medians[(small, "every lead idle")][1], medians[(large, "every lead idle")][1]
        print(f"  a step that erases nothing: {step_large / step_small:.2f}")
        print(f"  an erasure: {erase_large / erase_small:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
