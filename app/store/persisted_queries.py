"""Registered persisted queries (APQ), shared by every gateway process: sha256 → text.

One document per hash, keyed by ``_id``; a look-up is one round trip and pushes the
expiry back, so queries in use stay and abandoned ones expire through the TTL index.
A hash names its text for good (it is the text's sha256), so replicas may cache what
they read without ever invalidating it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Store

COLLECTION = "persisted_queries"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="ttl", expireAfterSeconds=0)]


def _collection(store: Store) -> AsyncCollection[dict[str, Any]]:
    return store.db[COLLECTION]


async def ensure_indexes(store: Store) -> None:
    await _collection(store).create_indexes(INDEXES)


async def find(store: Store, digest: str, ttl: timedelta) -> str | None:
    """The text registered under ``digest``, or None; a hit keeps it for another ``ttl``."""
    now = datetime.now(UTC)
    # Expired but not yet deleted (a store without TTL deletion) still names the same text,
    # so it is served and kept rather than refused.
    found = await _collection(store).find_one_and_update(
        {"_id": digest}, {"$set": {"expiresAt": now + ttl}}, projection={"query": 1}
    )
    return str(found["query"]) if found is not None else None


async def save(store: Store, digest: str, query: str, ttl: timedelta) -> None:
    await _collection(store).update_one(
        {"_id": digest},
        {"$setOnInsert": {"query": query}, "$set": {"expiresAt": datetime.now(UTC) + ttl}},
        upsert=True,
    )
