"""Identifier uniqueness: the registry (entries keyed by _id) against unique indexes on users.

One embedded store (memory engine) holds two databases side by side, each seeded with N
users: "registry" as the gateway stores them now (identifier registry, no unique index on
users), "unique" as earlier versions did (unique partial indexes on externalUserId, emails
and phones, no registry). For each size it times, as medians of --rounds calls:

- insert: a new user with an externalUserId, an email and a phone, in one transaction
  (registry: claim three entries, insert the user; unique: the holder find earlier versions
  ran, insert the user);
- update: a version-guarded replace of a user by _id that changes no identifier;
- look-up: a user by email (registry: entry by _id, then the user by _id; unique: the user
  by {appId, emails});
- and, for the registry design only, the gateway's own domain calls: ``add_tags`` (a whole
  update: look-up, conflict check, replace, history) and ``find_user`` by email.

The store runs in this process (a thread), so times include the driver's side as well.

    python -m bench.registry --sizes 1000 3000 --compare-sizes 300 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, IndexModel

from app.domain.actor import SYSTEM
from app.domain.users import UserRef, add_tags, find_user
from app.store import registry, unit_of_work
from app.store.client import Document, Store, connect
from app.store.embedded import EmbeddedServer
from app.store.indexes import ensure_indexes

APP = "app_bench"
SEED_BATCH = 200  # every insert on the embedded store scans the collection: small batches stay under the socket timeout
_HAS_STRING = {"$type": "string"}
# The unique indexes earlier versions kept on the users collection.
UNIQUE_INDEXES = [
    IndexModel(
        [("appId", ASCENDING), (field, ASCENDING)],
        name=f"unique_{field}",
        unique=True,
        partialFilterExpression={field: _HAS_STRING},
    )
    for field in ("externalUserId", "emails", "phones")
]


def user(n: int, now: datetime) -> Document:
    return {
        "_id": f"u{n:08d}",
        "appId": APP,
        "type": "CUSTOMER",
        "externalUserId": f"ext-{n}",
        "emails": [f"user{n}@example.com"],
        "phones": [f"+4930{n:08d}"],
        "tags": [],
        "attrs": {"ltv": n % 1000},
        "attrMeta": {},
        "channels": [],
        "signedUpAt": now,
        "createdAt": now,
        "updatedAt": now,
        "version": 0,
    }


def _entries(document: Document) -> list[Document]:
    return [{"_id": key, "appId": APP, "userId": document["_id"]} for key in registry.identifiers_of(document)]


async def seed(store: Store, size: int, with_registry: bool) -> None:
    now = datetime.now(UTC)
    for start in range(0, size, SEED_BATCH):
        batch = [user(n, now) for n in range(start, min(size, start + SEED_BATCH))]
        await store.users.insert_many(batch)
        if with_registry:
            await registry.collection(store).insert_many([e for d in batch for e in _entries(d)])


async def median_ms(rounds: int, call: Callable[[int], Awaitable[Any]]) -> float:
    times = []
    for round_ in range(rounds):
        started = time.perf_counter()
        await call(round_)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(store: Store, size: int, rounds: int, design: str) -> dict[str, float]:
    now = datetime.now(UTC)
    fresh = iter(range(size + 1, size + 1 + 10 * rounds))
    versions: dict[str, int] = {}

    async def insert(_: int) -> None:
        document = user(next(fresh), now)

        async def work(unit: unit_of_work.UnitOfWork) -> None:
            if design == "registry":
                await registry.sync(unit, None, document)
            else:
                clauses: list[Document] = [
                    {"externalUserId": document["externalUserId"]},
                    {"emails": {"$in": document["emails"]}},
                    {"phones": {"$in": document["phones"]}},
                ]
                query = {"appId": APP, "$or": clauses}
                await store.users.find(query, {"_id": 1}, session=unit.session).to_list()
            await unit.insert_one(store.users, document)

        await unit_of_work.run(store, work)

    async def update(round_: int) -> None:
        document = user((round_ * 7919) % size, now)
        version = versions.get(document["_id"], 0)
        document["version"] = version + 1
        document["tags"] = [f"t{round_}"]

        async def work(unit: unit_of_work.UnitOfWork) -> None:
            guard = {"_id": document["_id"], "appId": APP, "version": version}
            assert await unit.replace_one(store.users, guard, document)

        await unit_of_work.run(store, work)
        versions[document["_id"]] = version + 1

    async def look_up(round_: int) -> None:
        email = f"user{(round_ * 104729) % size}@example.com"
        if design == "registry":
            user_id = await registry.holder(store, APP, "email", email)
            found = await store.users.find_one({"appId": APP, "_id": user_id})
        else:
            found = await store.users.find_one({"appId": APP, "emails": email})
        assert found is not None

    results = {
        "insert": await median_ms(rounds, insert),
        "update": await median_ms(rounds, update),
        "look-up": await median_ms(rounds, look_up),
    }
    if design == "registry":
        ref = UserRef("email", "")

        async def domain_update(round_: int) -> None:
            await add_tags(store, APP, SYSTEM, UserRef("id", f"u{(round_ * 31) % size:08d}"), [f"d{round_}"])

        async def domain_look_up(round_: int) -> None:
            assert await find_user(store, APP, UserRef(ref.kind, f"user{(round_ * 13) % size}@example.com"))

        results["add_tags (domain)"] = await median_ms(rounds, domain_update)
        results["find_user by email (domain)"] = await median_ms(rounds, domain_look_up)
    return results


async def run(sizes: list[int], rounds: int, compare_sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        server = EmbeddedServer(Path(data_dir), engine="memory")
        # Building the unique indexes on a few thousand users takes minutes on the embedded store.
        store = connect(server.start(), "bench_registry", timeout_ms=600_000, embedded=server)
        try:
            table: dict[tuple[str, str], dict[int, float]] = {}
            for size in sorted({*sizes, *compare_sizes}):
                designs = [d for d, wanted in (("registry", sizes), ("unique", compare_sizes)) if size in wanted]
                for design in designs:
                    await store.client.drop_database("bench_registry")
                    await ensure_indexes(store)
                    await seed(store, size, with_registry=design == "registry")
                    if design == "unique":
                        await store.users.create_indexes(UNIQUE_INDEXES)
                    for shape, ms in (await measure(store, size, rounds, design)).items():
                        table.setdefault((design, shape), {})[size] = ms
            every = sorted({*sizes, *compare_sizes})
            header = " | ".join(f"{size:,} users" for size in every)
            print(f"| design | operation | {header} | last / first |")
            print("|---|---|" + "---|" * len(every) + "---|")
            for (design, shape), by_size in table.items():
                cells = " | ".join(f"{by_size[size]:.2f} ms" if size in by_size else "-" for size in every)
                measured = [by_size[size] for size in every if size in by_size]
                print(f"| {design} | {shape} | {cells} | x{measured[-1] / measured[0]:.2f} |")
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--compare-sizes",
        type=int,
        nargs="*",
        default=[300, 1_000],
        help="sizes for the unique-index design (its set-up grows quadratically on the embedded store)",
    )
    arguments = parser.parse_args()
    asyncio.run(run(arguments.sizes, arguments.rounds, arguments.compare_sizes))


if __name__ == "__main__":
    main()
