"""Deletions too large for one unit of work, finished afterwards in short batches.

A webhook endpoint's deliveries, or an erased user's history, grow with the owner's past.
Deleted in the unit that deletes their owner, they made that unit as long as the past: the
embedded store deletes about one document per 0.5-0.7 ms and holds its write lock
throughout (20,000 deliveries: more than ten seconds in which every other write waits), and
on MongoDB a transaction of that size holds its locks and cache as long. So the unit deletes
the owner and records a *pending purge* beside it (the owner is never gone without its purge
being due), and housekeeping deletes what the purge names ``PURGE_BATCH`` documents at a
time (``app/domain/housekeeping.py``).

Nothing waiting for a purge can be read: deliveries are read per endpoint and history per
user, and neither owner exists any more.

Each batch is a read of up to ``PURGE_BATCH`` ids in an indexed order (the owner's own index)
and one ``delete`` command of point deletes by ``_id``: a ``delete_many`` with the same
selector, or with an ``$in`` of the ids, makes the embedded store match the whole selector
again for every document it deletes (200 ids: 340-600 ms against 110-130 ms by ``_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pymongo import ASCENDING, DeleteOne
from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Session, Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]

PURGE_BATCH = 200  # documents per delete command: one short hold of the store's write lock

# What a purge may name: the collection, the owner's fields, and the order its index keeps.
Target = Literal["history", "webhook_deliveries"]
_OWNER_FIELDS: dict[str, tuple[str, ...]] = {"history": ("appId", "userId"), "webhook_deliveries": ("endpointId",)}
_ORDER: dict[str, str] = {"history": "_id", "webhook_deliveries": "seq"}


def collection(store: Store) -> AsyncCollection[Document]:
    return store.db["pending_purges"]


def purge_id(target: Target, owner: Sequence[str]) -> str:
    return "|".join((target, *owner))


async def schedule(unit: UnitOfWork, target: Target, owner: Sequence[str], now: datetime) -> None:
    """Make the purge of ``owner``'s documents in ``target`` due, in the caller's unit of work
    (scheduling the same purge twice keeps one)."""
    fields = _OWNER_FIELDS[target]
    if len(owner) != len(fields):
        raise ValueError(f"a purge of {target} is named by {fields}")
    document = {"_id": purge_id(target, owner), "target": target, "owner": list(owner), "scheduledAt": now}
    await unit.replace_one(collection(unit.store), {"_id": document["_id"]}, document, upsert=True)


async def is_scheduled(store: Store, target: Target, owner: Sequence[str], session: Session | None = None) -> bool:
    found = await collection(store).find_one({"_id": purge_id(target, owner)}, {"_id": 1}, session=session)
    return found is not None


async def due(store: Store, limit: int) -> list[Document]:
    """Up to ``limit`` pending purges, oldest first by id (a short collection: one entry per
    deleted owner whose documents are not all gone yet)."""
    return await collection(store).find({}).sort("_id", ASCENDING).limit(limit).to_list()


def selector(purge: Mapping[str, Any]) -> Document:
    """The documents a stored purge names. Only the targets above are known, and the owner's
    values must be strings: a purge record never becomes an operator."""
    target = purge.get("target")
    owner = purge.get("owner")
    if target not in _OWNER_FIELDS or not isinstance(owner, list):
        raise ValueError(f"unknown purge {purge.get('_id')!r}")
    fields = _OWNER_FIELDS[target]
    if len(owner) != len(fields) or not all(isinstance(value, str) for value in owner):
        raise ValueError(f"malformed purge {purge.get('_id')!r}")
    return dict(zip(fields, owner, strict=True))


async def run_batch(store: Store, purge: Mapping[str, Any]) -> tuple[int, bool]:
    """Delete up to ``PURGE_BATCH`` documents of ``purge``; returns how many were deleted and
    whether the purge is finished (then its record is gone too)."""
    target = str(purge["target"])
    documents = store.db[target]
    found = await ids_in_order(documents, selector(purge), _ORDER[target], PURGE_BATCH)
    deleted = await delete_ids(documents, found)
    if len(found) < PURGE_BATCH:
        await collection(store).delete_one({"_id": purge["_id"]})
        return deleted, True
    return deleted, False


async def ids_in_order(
    documents: AsyncCollection[Document], query: Mapping[str, Any], order: str, limit: int
) -> list[Any]:
    cursor = documents.find(query, {"_id": 1}).sort(order, ASCENDING).limit(limit).batch_size(limit)
    return [document["_id"] async for document in cursor]


async def delete_ids(documents: AsyncCollection[Document], ids: Sequence[Any]) -> int:
    """One ``delete`` command of point deletes (an id deleted meanwhile counts nothing)."""
    if not ids:
        return 0
    result = await documents.bulk_write([DeleteOne({"_id": value}) for value in ids], ordered=False)
    return result.deleted_count
