"""Webhook endpoints and their deliveries (one document per endpoint and event).

A delivery's ``_id`` is ``<endpointId>:<outbox seq>``: fanning an event out twice (two
dispatchers at once) inserts it once. Deliveries are leased (``leaseUntil``) while an attempt
is in flight so that no two dispatchers send the same one at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from app.store import purges
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]
PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
_DUPLICATE_KEY = 11000


def endpoints(store: Store) -> AsyncCollection[Document]:
    return store.db["webhook_endpoints"]


def deliveries(store: Store) -> AsyncCollection[Document]:
    return store.db["webhook_deliveries"]


def redeliveries(store: Store) -> AsyncCollection[Document]:
    """Redeliveries still walking an endpoint's deliveries (``app/store/redeliveries.py``)."""
    return store.db["webhook_redeliveries"]


# Retention trims each endpoint's oldest deliveries in seq order (app/store/retention.py).
RETIRED_DELIVERY_INDEXES = ("occurred",)


async def ensure_indexes(store: Store) -> None:
    await endpoints(store).create_indexes(
        [IndexModel([("appId", ASCENDING)], name="app"), IndexModel([("enabled", ASCENDING)], name="enabled")]
    )
    await deliveries(store).create_indexes(
        [
            IndexModel([("endpointId", ASCENDING), ("seq", ASCENDING)], name="endpoint_seq"),
            IndexModel([("endpointId", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)], name="endpoint_status"),
        ]
    )


def delivery_id(endpoint_id: str, seq: int) -> str:
    return f"{endpoint_id}:{seq:019d}"


async def insert_endpoint(store: Store, document: Document) -> None:
    await endpoints(store).insert_one(document)


async def count_endpoints(store: Store, app_id: str) -> int:
    return await endpoints(store).count_documents({"appId": app_id})


async def list_endpoints(store: Store, app_id: str) -> list[Document]:
    return await endpoints(store).find({"appId": app_id}).sort("createdAt", ASCENDING).to_list()


async def get_endpoint(store: Store, app_id: str, endpoint_id: str) -> Document | None:
    return await endpoints(store).find_one({"_id": endpoint_id, "appId": app_id})


async def update_endpoint(store: Store, app_id: str, endpoint_id: str, changes: Document) -> Document | None:
    return await endpoints(store).find_one_and_update(
        {"_id": endpoint_id, "appId": app_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )


async def delete_endpoint(unit: UnitOfWork, app_id: str, endpoint_id: str, now: datetime) -> bool:
    """The endpoint goes, and the purge of its deliveries is due, in one unit of work (its
    deliveries can be as many as its past: housekeeping deletes them in batches); a
    redelivery still walking them goes too."""
    deleted = await unit.delete_many(endpoints(unit.store), {"_id": endpoint_id, "appId": app_id})
    if deleted:
        await purges.schedule(unit, "webhook_deliveries", [endpoint_id], now)
        await unit.delete_many(redeliveries(unit.store), {"_id": endpoint_id})
    return bool(deleted)


async def enabled_endpoints(store: Store) -> list[Document]:
    return await endpoints(store).find({"enabled": True}).to_list()


async def advance_cursor(store: Store, endpoint_id: str, seq: int) -> None:
    await endpoints(store).update_one({"_id": endpoint_id}, {"$max": {"cursor": seq}})


async def record_outcome(store: Store, endpoint_id: str, succeeded: bool, disable_after: int) -> bool:
    """Count the attempt on the endpoint; returns True when this failure disabled it."""
    if succeeded:
        await endpoints(store).update_one({"_id": endpoint_id}, {"$set": {"consecutiveFailures": 0}})
        return False
    updated = await endpoints(store).find_one_and_update(
        {"_id": endpoint_id}, {"$inc": {"consecutiveFailures": 1}}, return_document=ReturnDocument.AFTER
    )
    if updated is None or not updated.get("enabled") or updated["consecutiveFailures"] < disable_after:
        return False
    await endpoints(store).update_one({"_id": endpoint_id}, {"$set": {"enabled": False, "disabledReason": "FAILING"}})
    return True


async def insert_deliveries(store: Store, documents: Sequence[Document]) -> None:
    """Insert, skipping deliveries another dispatcher inserted first."""
    if not documents:
        return
    try:
        await deliveries(store).insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if any(item.get("code") != _DUPLICATE_KEY for item in error.details.get("writeErrors", [])):
            raise


async def pending(store: Store, endpoint_id: str, limit: int) -> list[Document]:
    query = {"endpointId": endpoint_id, "status": PENDING}
    return await deliveries(store).find(query).sort("seq", ASCENDING).limit(limit).to_list()


def _pending_due_and_free(now: datetime) -> Document:
    """A delivery that may be attempted at ``now``: what a lease requires (``is_due`` is
    the same test on a delivery already read)."""
    return {"status": PENDING, "nextAttemptAt": {"$lte": now}, "leaseUntil": {"$lte": now}}


async def endpoints_with_due_deliveries(store: Store, endpoint_ids: Sequence[str], now: datetime) -> set[str]:
    """Of these endpoints, those with a delivery that is pending, due and free: one read
    for a whole dispatch round, so that an idle endpoint costs no read of its own."""
    if not endpoint_ids:
        return set()
    query = {"endpointId": {"$in": list(endpoint_ids)}, **_pending_due_and_free(now)}
    return {str(endpoint_id) for endpoint_id in await deliveries(store).distinct("endpointId", query)}


def is_due(delivery: Document, now: datetime) -> bool:
    """What ``lease`` requires of a pending delivery besides its status: due and free (a
    missing time matches neither there nor here)."""
    next_attempt, lease_until = delivery.get("nextAttemptAt"), delivery.get("leaseUntil")
    return next_attempt is not None and lease_until is not None and next_attempt <= now and lease_until <= now


async def lease(store: Store, delivery: Document, now: datetime, until: datetime, owner: str) -> Document | None:
    """The delivery, leased to ``owner`` until ``until``, if it is still pending, due and free."""
    return await deliveries(store).find_one_and_update(
        {"_id": delivery["_id"], **_pending_due_and_free(now)},
        {"$set": {"leaseUntil": until, "leaseOwner": owner}},
        return_document=ReturnDocument.AFTER,
    )


async def finish_attempt(store: Store, delivery_id_: str, owner: str, changes: Document) -> None:
    await deliveries(store).update_one({"_id": delivery_id_, "leaseOwner": owner}, {"$set": changes})


async def page(store: Store, endpoint_id: str, after_seq: int, first: int, status: str | None) -> list[Document]:
    query: Document = {"endpointId": endpoint_id, "seq": {"$gt": after_seq}}
    if status is not None:
        query["status"] = status
    return await deliveries(store).find(query).sort("seq", ASCENDING).limit(first + 1).to_list()
