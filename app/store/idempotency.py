"""Idempotency records: the first response to a mutation, kept per app and key for a while.

A TTL index on ``expiresAt`` lets MongoDB delete old records; reads also check the expiry
so that a store that does not enforce TTL indexes (mongoeco keeps them as plain indexes)
never replays a stale response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from app.store.client import Store

COLLECTION = "idempotency_keys"
# A claim whose request never finished (a crashed process) is taken over after this.
ABANDONED_AFTER = timedelta(minutes=2)

INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="ttl", expireAfterSeconds=0)]


@dataclass(frozen=True, slots=True)
class Recorded:
    fingerprint: str
    status: int | None  # None while the first request is still running
    content_type: str | None
    body: bytes | None


def _collection(store: Store) -> AsyncCollection[dict[str, Any]]:
    return store.db[COLLECTION]


def _record_id(app_id: str, key: str) -> str:
    return hashlib.sha256(f"{app_id}\0{key}".encode()).hexdigest()


async def ensure_indexes(store: Store) -> None:
    await _collection(store).create_indexes(INDEXES)


async def claim(store: Store, app_id: str, key: str, fingerprint: str, ttl: timedelta) -> Recorded | None:
    """Claim the key for this request (None), or return what an earlier request recorded."""
    now = datetime.now(UTC)
    record_id = _record_id(app_id, key)
    document = {
        "_id": record_id,
        "appId": app_id,
        "fingerprint": fingerprint,
        "createdAt": now,
        "expiresAt": now + ttl,
    }
    for _ in range(2):
        try:
            await _collection(store).insert_one(document)
            return None
        except DuplicateKeyError:
            existing = await _collection(store).find_one({"_id": record_id})
        if existing is None:
            continue  # expired and deleted in between
        abandoned = "status" not in existing and existing["createdAt"] < now - ABANDONED_AFTER
        if existing["expiresAt"] > now and not abandoned:
            return Recorded(
                existing["fingerprint"],
                existing.get("status"),
                existing.get("contentType"),
                bytes(existing["body"]) if "body" in existing else None,
            )
        await _collection(store).delete_one({"_id": record_id, "createdAt": existing["createdAt"]})
    return None


async def complete(store: Store, app_id: str, key: str, status: int, content_type: str, body: bytes) -> None:
    await _collection(store).update_one(
        {"_id": _record_id(app_id, key)},
        {"$set": {"status": status, "contentType": content_type, "body": Binary(body)}},
    )


async def release(store: Store, app_id: str, key: str) -> None:
    """Forget a claim whose request failed for a retryable reason, so the retry runs."""
    await _collection(store).delete_one({"_id": _record_id(app_id, key), "status": {"$exists": False}})
