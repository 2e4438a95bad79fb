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
user, and neither owner exists any more; a tombstone that redirects to an erased user resolves
to no one.

A merge's history moves the same way (``schedule_history_move``): the absorbed user's events,
then the tombstones that redirected to it, are given to the user that absorbed it in batches,
each batch a transaction that also touches the move's record, so a batch and an erasure that
removes the record never both commit (no event moves to an erased user after its purge).
Until a move is done a look-up of an older tombstone takes one more hop (reads follow up to
``MAX_REDIRECTS``, ``app/domain/users.py``).

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

from app.store import unit_of_work
from app.store.client import Session, Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]

PURGE_BATCH = 200  # documents per delete command: one short hold of the store's write lock

# What a purge may delete: a collection, named by its owner's fields, read in its index's order.
# In `users` only tombstones: a purge's selector names `mergedInto`, which no live user has.
Target = Literal["history", "webhook_deliveries", "users"]
HISTORY_MOVE = "history_move"  # a record that moves a source user's history (and tombstones) instead
_OWNER_FIELDS: dict[str, tuple[str, ...]] = {
    "history": ("appId", "userId"),
    "webhook_deliveries": ("endpointId",),
    "users": ("appId", "mergedInto"),
    HISTORY_MOVE: ("appId", "userId"),
}
_ORDER: dict[str, str] = {"history": "_id", "webhook_deliveries": "seq", "users": "_id", HISTORY_MOVE: "_id"}


def collection(store: Store) -> AsyncCollection[Document]:
    return store.db["pending_purges"]


def purge_id(kind: str, owner: Sequence[str]) -> str:
    """A record's ``_id``: its kind (a target or ``HISTORY_MOVE``) and its owner."""
    return "|".join((kind, *owner))


async def schedule(unit: UnitOfWork, target: Target, owner: Sequence[str], now: datetime) -> None:
    """Make the purge of ``owner``'s documents in ``target`` due, in the caller's unit of work
    (scheduling the same purge twice keeps one)."""
    fields = _OWNER_FIELDS[target]
    if len(owner) != len(fields):
        raise ValueError(f"a purge of {target} is named by {fields}")
    document = {"_id": purge_id(target, owner), "target": target, "owner": list(owner), "scheduledAt": now}
    await unit.replace_one(collection(unit.store), {"_id": document["_id"]}, document, upsert=True)


async def schedule_user_erasure(unit: UnitOfWork, app_id: str, user_id: str, now: datetime) -> None:
    """What an erased user leaves behind, purged after the unit: its history, and the tombstones
    that still redirect to it."""
    await schedule(unit, "history", [app_id, user_id], now)
    await schedule(unit, "users", [app_id, user_id], now)


async def schedule_history_move(unit: UnitOfWork, app_id: str, source_id: str, target_id: str, now: datetime) -> None:
    """In the merge's unit of work: the source's events, and the tombstones that redirected to
    it, become the target's, in batches. Moves still due to the source (it had absorbed users
    itself) now go to the target."""
    for move in await moves_to(unit.store, source_id, unit.session):
        await unit.update_one(collection(unit.store), {"_id": move["_id"]}, {"$set": {"to": target_id}})
    document = {
        "_id": purge_id(HISTORY_MOVE, [app_id, source_id]),
        "target": HISTORY_MOVE,
        "owner": [app_id, source_id],
        "to": target_id,
        "scheduledAt": now,
    }
    await unit.replace_one(collection(unit.store), {"_id": document["_id"]}, document, upsert=True)


async def moves_to(store: Store, user_id: str, session: Session | None = None) -> list[Document]:
    """The moves still due to ``user_id`` (through the sparse ``move_to`` index): as many as the
    users it absorbed whose past has not moved yet, which housekeeping keeps few."""
    pending = collection(store).find({"target": HISTORY_MOVE, "to": user_id}, {"owner": 1}, session=session)
    return await pending.to_list()


async def cancel_history_move(unit: UnitOfWork, app_id: str, source_id: str) -> None:
    """The source's events are erased instead of moved (its target is being erased)."""
    await unit.delete_many(collection(unit.store), {"_id": purge_id(HISTORY_MOVE, [app_id, source_id])})


async def is_scheduled(store: Store, target: Target, owner: Sequence[str], session: Session | None = None) -> bool:
    found = await collection(store).find_one({"_id": purge_id(target, owner)}, {"_id": 1}, session=session)
    return found is not None


async def due(store: Store, limit: int) -> list[Document]:
    """Up to ``limit`` pending purges, oldest first by id (a short collection: one entry per
    deleted owner whose documents are not all gone yet)."""
    return await collection(store).find({}).sort("_id", ASCENDING).limit(limit).to_list()


def selector(purge: Mapping[str, Any]) -> Document:
    """The documents a stored purge (or history move) names. Only the kinds above are known,
    and the owner's values must be strings: a purge record never becomes an operator."""
    target = purge.get("target")
    owner = purge.get("owner")
    if target not in _OWNER_FIELDS or not isinstance(owner, list):
        raise ValueError(f"unknown purge {purge.get('_id')!r}")
    fields = _OWNER_FIELDS[target]
    if len(owner) != len(fields) or not all(isinstance(value, str) for value in owner):
        raise ValueError(f"malformed purge {purge.get('_id')!r}")
    return dict(zip(fields, owner, strict=True))


async def run_batch(store: Store, purge: Mapping[str, Any]) -> tuple[int, bool]:
    """Delete (or, for a history move, move) up to ``PURGE_BATCH`` documents of ``purge``;
    returns how many and whether the purge is finished (then its record is gone too)."""
    if purge.get("target") == HISTORY_MOVE:
        return await _move_batch(store, purge)
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


async def _move_batch(store: Store, move: Mapping[str, Any]) -> tuple[int, bool]:
    """The source's history first, then the tombstones that redirected to it."""
    owner = selector(move)
    events = await ids_in_order(store.history, owner, _ORDER[HISTORY_MOVE], PURGE_BATCH)
    redirected = {"appId": owner["appId"], "mergedInto": owner["userId"]}
    tombstones = (
        await ids_in_order(store.users, redirected, "_id", PURGE_BATCH - len(events))
        if len(events) < PURGE_BATCH
        else []
    )

    async def work(unit: UnitOfWork) -> int | None:
        # Touching the record makes this batch conflict with an erasure that deletes it, and
        # reads the target as it is now (a later merge may have moved it on).
        current = await unit.find_one_and_update(collection(store), {"_id": move["_id"]}, {"$inc": {"batches": 1}})
        if current is None or not isinstance(current.get("to"), str):
            return None
        moved = 0
        if events:
            # By _id alone (a point update on either engine): an event read above is the source's,
            # or has moved on to this move's target since, and the target is the one to give it to.
            selectors = [{"_id": event_id} for event_id in events]
            moved += await unit.update_each(store.history, selectors, {"$set": {"userId": current["to"]}})
        if tombstones:
            selectors = [{"_id": tombstone_id, **redirected} for tombstone_id in tombstones]
            moved += await unit.update_each(store.users, selectors, {"$set": {"mergedInto": current["to"]}})
        return moved

    moved = await unit_of_work.run(store, work)
    if moved is None:
        return 0, True  # cancelled meanwhile: the erasure purges what is left
    if len(events) + len(tombstones) < PURGE_BATCH:
        await collection(store).delete_one({"_id": move["_id"]})
        return moved, True
    return moved, False
