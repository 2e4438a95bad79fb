"""Token buckets in the store, shared by every gateway process: one round trip per take.

A bucket is one document keyed by ``_id`` (``<limit>|<key>``). A take is a single
``findOneAndUpdate`` with an update pipeline: refill by the time elapsed since the last
take, take up to ``count`` whole tokens (as many as there are), and report how many it
took. The store's clock (``$$NOW``) is the only clock, so replicas whose clocks differ
still share one rate.

``expiresAt`` is the moment the bucket would be full again; a TTL index deletes buckets
after that, which is harmless, since a missing bucket counts as full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Store

COLLECTION = "rate_limits"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="ttl", expireAfterSeconds=0)]
_NOW_SECONDS = {"$divide": [{"$toLong": "$$NOW"}, 1000]}


@dataclass(frozen=True, slots=True)
class Take:
    granted: int  # tokens taken: 0 when the bucket had not one whole token
    tokens: float  # left after this take

    @property
    def allowed(self) -> bool:
        return self.granted >= 1


def _collection(store: Store) -> AsyncCollection[dict[str, Any]]:
    return store.db[COLLECTION]


async def ensure_indexes(store: Store) -> None:
    await _collection(store).create_indexes(INDEXES)


def _take_pipeline(rate_per_second: float, burst: int, count: int) -> list[dict[str, Any]]:
    last = {"$ifNull": ["$at", _NOW_SECONDS]}
    elapsed = {"$max": [0, {"$subtract": [_NOW_SECONDS, last]}]}
    refilled = {"$min": [burst, {"$add": [{"$ifNull": ["$tokens", burst]}, {"$multiply": [elapsed, rate_per_second]}]}]}
    full_after_ms = int(burst / rate_per_second * 1000) + 1
    return [
        {"$set": {"tokens": refilled, "at": {"$max": [_NOW_SECONDS, last]}}},
        {"$set": {"granted": {"$min": [count, {"$floor": "$tokens"}]}}},
        {
            "$set": {
                "tokens": {"$subtract": ["$tokens", "$granted"]},
                "expiresAt": {"$add": ["$$NOW", full_after_ms]},
            }
        },
    ]


async def take(store: Store, limit: str, key: str, rate_per_second: float, burst: int, count: int = 1) -> Take:
    """Take up to ``count`` tokens from the bucket ``limit|key`` (created full)."""
    bucket = await _collection(store).find_one_and_update(
        {"_id": f"{limit}|{key}"},
        _take_pipeline(rate_per_second, burst, count),
        upsert=True,
        return_document=ReturnDocument.AFTER,
        projection={"granted": 1, "tokens": 1},
    )
    assert bucket is not None  # upsert with AFTER always returns the document
    return Take(granted=int(bucket["granted"]), tokens=float(bucket["tokens"]))
