"""Bulk import throughput: the gateway's bulkUpsertUsers against a bare PyMongo bulk_write.

Both run in one process against the same store (embedded unless MONGODB_URI is set):
the gateway through GraphQL over the in-process ASGI transport (validation, look-up,
bulk write, history), the bare driver inserting the same users (as the documents the
gateway stores) into a collection with the same indexes. Prints records/s for both and
their ratio.

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
from pymongo import InsertOne

from app.auth import tokens
from app.config import Settings
from app.main import Runtime, create_app
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
            now = datetime.now(UTC)
            documents = [document(app_id, i, now) for i in range(n)]
            records = [record(i) for i in range(n)]
            # Batches alternate between the two paths so both collections grow in step: the
            # embedded server slows down as a collection grows, which would favour the first.
            bare_seconds = gateway_seconds = 0.0
            for start in range(0, n, batch):
                started = time.perf_counter()
                await bare.bulk_write([InsertOne(doc) for doc in documents[start : start + batch]], ordered=False)
                bare_seconds += time.perf_counter() - started
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

    bare_rate, gateway_rate = n / bare_seconds, n / gateway_seconds
    store = "MongoDB (MONGODB_URI)" if settings.mongodb_uri else f"embedded ({settings.embedded_engine})"
    print(f"store: {store}; {n} users in batches of {batch}")
    print(f"bare PyMongo bulk_write : {bare_rate:8.0f} records/s ({bare_seconds:.2f} s)")
    print(f"gateway bulkUpsertUsers : {gateway_rate:8.0f} records/s ({gateway_seconds:.2f} s)")
    print(f"ratio gateway/bare      : {gateway_rate / bare_rate:8.2f} (target >= 0.7)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="users to import (default 2000)")
    parser.add_argument("--batch", type=int, default=500, help="records per call (at most 1000)")
    parser.add_argument(
        "--engine", choices=("sqlite", "memory"), default="sqlite", help="embedded engine (default: sqlite)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.batch, arguments.engine))
