"""Bulk import throughput: the gateway's bulkUpsertUsers against bare PyMongo writes.

All run in one process against the same store (embedded unless MONGODB_URI is set): the
gateway through GraphQL over the in-process ASGI transport (validation, look-up, bulk
write, history, change feed), and two bare-driver baselines writing into collections of
their own with the same indexes:

- "every document": per record what the gateway stores (the user, its two identifier
  registry entries, a history event and a change-feed entry, with the app's change
  counter), in one transaction per batch as the gateway does. The target applies to this
  ratio: it is the gateway's own overhead.
- "users only": just the user documents, one bulk_write per batch (the baseline this
  benchmark had first; it does a fifth of the writes).

Prints records/s for each and the ratios.

    python -m bench.bulk --n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from bson.decimal128 import Decimal128
from cryptography.fernet import Fernet
from pydantic import SecretStr
from pymongo import InsertOne, ReturnDocument

from app.auth import tokens
from app.config import Settings
from app.main import Runtime, create_app
from app.store import registry
from app.store.indexes import USER_INDEXES

CREATE_APP = 'mutation { createApp(name: "bench") { app { id } key { id secret } } }'
BULK = """
mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { status succeeded failed failures { index code message } }
}
"""


def record(n: int) -> dict[str, Any]:
    return {
        "externalUserId": f"user-{n:07d}",
        "givenName": f"Given{n}",
        "surname": f"Surname{n}",
        "emails": [f"user{n}@example.com"],
        "tags": ["bench", f"cohort-{n % 10}"],
        "customAttributes": [
            {"key": "ltv", "value": {"number": f"{n % 1000}.{n % 100:02d}"}},
            {"key": "plan", "value": {"string": ("free", "pro", "team")[n % 3]}},
            {"key": "vip", "value": {"boolean": n % 7 == 0}},
        ],
    }


def document(app_id: str, n: int, now: datetime) -> dict[str, Any]:
    """What the gateway stores for record(n): the bare driver writes the same shape."""
    source = record(n)
    meta = {
        key: {"type": kind, "updatedAt": now}
        for key, kind in (("ltv", "NUMBER"), ("plan", "STRING"), ("vip", "BOOLEAN"))
    }
    return {
        "_id": f"bare-{n:07d}",
        "appId": app_id,
        "type": "LEAD",
        "signedUpAt": now,
        "externalUserId": source["externalUserId"],
        "givenName": source["givenName"],
        "surname": source["surname"],
        "emails": source["emails"],
        "phones": [],
        "tags": source["tags"],
        "attrs": {
            "ltv": Decimal128(f"{n % 1000}.{n % 100:02d}"),
            "plan": ("free", "pro", "team")[n % 3],
            "vip": n % 7 == 0,
        },
        "attrMeta": meta,
        "channels": [],
        "createdAt": now,
        "updatedAt": now,
        "version": 0,
    }


def everything_stored(app_id: str, user: dict[str, Any], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Besides the user: the documents the gateway writes for one new user, in its shapes."""
    user_id = user["_id"]
    entries = [{"_id": key, "appId": app_id, "userId": user_id} for key in registry.identifiers_of(user)]
    event = {
        "_id": f"{user_id}-created",
        "appId": app_id,
        "userId": user_id,
        "kind": "CREATED",
        "at": now,
        "actor": {"scope": "app", "keyId": "bench"},
        "details": {"source": "bulkUpsertUsers"},
        "version": 0,
    }
    change = {
        "type": "user.created",
        "occurredAt": now,
        "appId": app_id,
        "userId": user_id,
        "externalUserId": user["externalUserId"],
        "version": 0,
        "changed": ["profile"],
    }
    return {"registry": entries, "history": [event], "outbox": [change]}


async def _write_everything(runtime: Runtime, app_id: str, users: list[dict[str, Any]], now: datetime) -> None:
    """One batch of the "every document" baseline, in one transaction."""
    db = runtime.store.db
    extra = [everything_stored(app_id, user, now) for user in users]
    async with runtime.store.client.start_session() as session, await session.start_transaction():
        await db["bench_all_users"].insert_many(users, session=session)
        await db["bench_all_registry"].insert_many([d for e in extra for d in e["registry"]], session=session)
        await db["bench_all_history"].insert_many([d for e in extra for d in e["history"]], session=session)
        counter = await db["bench_all_counters"].find_one_and_update(
            {"_id": app_id},
            {"$inc": {"seq": len(users)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert counter is not None  # upserted
        first = counter["seq"] - len(users) + 1
        changes = [{**d, "seq": first + i} for i, d in enumerate(d for e in extra for d in e["outbox"])]
        await db["bench_all_outbox"].insert_many(changes, session=session)


async def main(n: int, batch: int, engine: Literal["sqlite", "memory"]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    settings = Settings(
        mongodb_uri=os.environ.get("MONGODB_URI"),
        database_name=f"bench_{secrets.token_hex(4)}",
        data_dir=data_dir,
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
        master_key=SecretStr(Fernet.generate_key().decode()),
        embedded_engine=engine,
        # The embedded server takes seconds for a batch of 1,000 writes: allow for it.
        store_timeout_ms=120_000,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        runtime: Runtime = application.state.runtime
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as http:
            assert settings.admin_secret is not None
            admin = tokens.mint(settings.admin_secret.get_secret_value(), {"scope": "admin"})
            created = (
                await http.post("/graphql", json={"query": CREATE_APP}, headers={"authorization": f"Bearer {admin}"})
            ).json()
            app_id = created["data"]["createApp"]["app"]["id"]
            key = created["data"]["createApp"]["key"]
            app_token = tokens.mint(key["secret"], {"scope": "app"}, key_id=key["id"])

            bare = runtime.store.db["bench_bare_users"]
            await bare.create_indexes(USER_INDEXES)
            await runtime.store.db["bench_all_users"].create_indexes(USER_INDEXES)
            await runtime.store.db["bench_all_history"].create_index([("appId", 1), ("userId", 1), ("at", -1)])
            await runtime.store.db["bench_all_outbox"].create_index([("appId", 1), ("seq", 1)])
            now = datetime.now(UTC)
            documents = [document(app_id, i, now) for i in range(n)]
            everything = [{**doc, "_id": f"all-{i:07d}"} for i, doc in enumerate(documents)]
            records = [record(i) for i in range(n)]
            # Batches alternate between the paths so all collections grow in step: the
            # embedded server slows down as a collection grows, which would favour the first.
            bare_seconds = all_seconds = gateway_seconds = 0.0
            for start in range(0, n, batch):
                started = time.perf_counter()
                await bare.bulk_write([InsertOne(doc) for doc in documents[start : start + batch]], ordered=False)
                bare_seconds += time.perf_counter() - started
                started = time.perf_counter()
                await _write_everything(runtime, app_id, everything[start : start + batch], now)
                all_seconds += time.perf_counter() - started
                started = time.perf_counter()
                response = await http.post(
                    "/graphql",
                    json={"query": BULK, "variables": {"records": records[start : start + batch]}},
                    headers={"authorization": f"Bearer {app_token}"},
                )
                gateway_seconds += time.perf_counter() - started
                result = response.json()["data"]["bulkUpsertUsers"]
                assert result["status"] == "SUCCESS", result
        if settings.mongodb_uri is not None:
            await runtime.store.client.drop_database(settings.database_name)

    bare_rate, all_rate, gateway_rate = n / bare_seconds, n / all_seconds, n / gateway_seconds
    store = "MongoDB (MONGODB_URI)" if settings.mongodb_uri else f"embedded ({settings.embedded_engine})"
    print(f"store: {store}; {n} users in batches of {batch}")
    print(f"bare PyMongo, every document  : {all_rate:8.0f} records/s ({all_seconds:.2f} s)")
    print(f"bare PyMongo, users only      : {bare_rate:8.0f} records/s ({bare_seconds:.2f} s)")
    print(f"gateway bulkUpsertUsers       : {gateway_rate:8.0f} records/s ({gateway_seconds:.2f} s)")
    print(f"ratio gateway/every document  : {gateway_rate / all_rate:8.2f} (target >= 0.7)")
    print(f"ratio gateway/users only      : {gateway_rate / bare_rate:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="users to import (default 2000)")
    parser.add_argument("--batch", type=int, default=500, help="records per call (at most 1000)")
    parser.add_argument(
        "--engine", choices=("sqlite", "memory"), default="sqlite", help="embedded engine (default: sqlite)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.batch, arguments.engine))
