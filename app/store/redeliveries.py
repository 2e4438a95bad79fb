"""Webhook redeliveries: every delivery of an endpoint since a time, made pending again in
short batches.

One ``update_many`` over an endpoint's deliveries since a time is as long as the endpoint's
past (seven days of a busy endpoint by default): the embedded store holds its write lock for
all of it, and on MongoDB it is one long write. So ``redeliverWebhookEvents`` records a
*redelivery* (one per endpoint, ``_id`` = the endpoint's id) and the walk goes through the
endpoint's deliveries in ``seq`` order (its own index), ``REDELIVERY_BATCH`` at a time: a read
of their ids and times, then one command of point updates by ``_id`` of those since ``since``.
The walk stops at the highest ``seq`` the endpoint had when it was asked: later deliveries are
new and pending anyway. The call runs the first batch itself, so a short redelivery is done
when it answers; housekeeping (``app/domain/housekeeping.py``) runs the rest.

A second call while a redelivery runs starts the walk again from the oldest delivery with the
earlier of the two times (one atomic upsert), so nothing either call asked for is skipped. Each
call marks its walk with a new ``run``; a batch of an older walk neither moves the cursor of
the newer one nor ends it. Two processes walking at once may make a delivery pending twice:
that is a second attempt, which at-least-once delivery allows.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne

from app.store.client import Store
from app.store.webhooks import PENDING, deliveries, redeliveries

Document = dict[str, Any]

REDELIVERY_BATCH = 200  # deliveries read per batch: one short command of point updates


async def schedule(store: Store, app_id: str, endpoint_id: str, since: datetime, now: datetime) -> Document | None:
    """Record (or restart) the endpoint's redelivery; returns it, or None when the endpoint has
    no delivery to walk."""
    newest = await deliveries(store).find_one({"endpointId": endpoint_id}, {"seq": 1}, sort=[("seq", DESCENDING)])
    if newest is None:
        return None
    found: Document | None = await redeliveries(store).find_one_and_update(
        {"_id": endpoint_id},
        {
            "$min": {"since": since},
            "$max": {"upTo": int(newest["seq"])},
            "$set": {"appId": app_id, "cursor": 0, "queued": 0, "run": secrets.token_hex(8), "requestedAt": now},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return found


async def of_endpoints(store: Store, app_id: str, endpoint_ids: Sequence[str]) -> list[Document | None]:
    """The app's redeliveries of these endpoints, in their order (None for none): one read by ``_id``."""
    found = {
        document["_id"]: document
        async for document in redeliveries(store).find({"_id": {"$in": list(endpoint_ids)}, "appId": app_id})
    }
    return [found.get(endpoint_id) for endpoint_id in endpoint_ids]


async def due(store: Store, limit: int) -> list[Document]:
    """Up to ``limit`` redeliveries, by endpoint id (a short collection: one entry per endpoint
    whose redelivery has not finished)."""
    return await redeliveries(store).find({}).sort("_id", ASCENDING).limit(limit).to_list()


def _walk(redelivery: Mapping[str, Any]) -> tuple[str, str, datetime, int, int]:
    """The stored walk's fields, checked: a record never becomes an operator."""
    endpoint_id, run = redelivery.get("_id"), redelivery.get("run")
    since, cursor, up_to = redelivery.get("since"), redelivery.get("cursor"), redelivery.get("upTo")
    if not (isinstance(endpoint_id, str) and isinstance(run, str) and isinstance(since, datetime)):
        raise ValueError(f"malformed redelivery {endpoint_id!r}")
    if type(cursor) is not int or type(up_to) is not int:
        raise ValueError(f"malformed redelivery {endpoint_id!r}")
    return endpoint_id, run, since, cursor, up_to


@dataclass(slots=True)
class Batch:
    queued: int  # deliveries made pending again
    read: int  # deliveries read: what the batch cost
    rest: Document | None  # the walk to go on with, or None: finished (or taken over by a newer call)


async def run_batch(store: Store, redelivery: Mapping[str, Any], now: datetime) -> Batch:
    """Make up to ``REDELIVERY_BATCH`` more deliveries pending again."""
    endpoint_id, run, since, cursor, up_to = _walk(redelivery)
    query = {"endpointId": endpoint_id, "seq": {"$gt": cursor, "$lte": up_to}}
    read = (
        deliveries(store)
        .find(query, {"_id": 1, "seq": 1, "occurredAt": 1})
        .sort("seq", ASCENDING)
        .limit(REDELIVERY_BATCH)
        .batch_size(REDELIVERY_BATCH)
    )
    found = [document async for document in read]
    chosen = [item["_id"] for item in found if _since(item, since)]
    queued = 0
    if chosen:
        again = {"$set": {"status": PENDING, "attempts": 0, "nextAttemptAt": now, "leaseUntil": now}}
        result = await deliveries(store).bulk_write([UpdateOne({"_id": item}, again) for item in chosen], ordered=False)
        queued = result.matched_count
    mine = {"_id": endpoint_id, "run": run}
    if len(found) < REDELIVERY_BATCH:
        await redeliveries(store).delete_one(mine)
        return Batch(queued, len(found), None)
    return Batch(queued, len(found), await _advance(store, mine, int(found[-1]["seq"]), queued))


async def _advance(store: Store, walk: Document, seq: int, queued: int) -> Document | None:
    """Move the walk's cursor past ``seq``; None when a newer call has taken the walk over.
    A process that dies before this repeats the batch: making a delivery pending is idempotent."""
    rest: Document | None = await redeliveries(store).find_one_and_update(
        walk, {"$max": {"cursor": seq}, "$inc": {"queued": queued}}, return_document=ReturnDocument.AFTER
    )
    return rest


def _since(delivery: Mapping[str, Any], since: datetime) -> bool:
    occurred = delivery.get("occurredAt")
    return isinstance(occurred, datetime) and occurred >= since
