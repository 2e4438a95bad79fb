"""Retention of change events and webhook deliveries: each owner's oldest documents first.

An app's outbox entries are numbered in commit order (``_id`` ``<appId>:<seq>``) and an
endpoint's deliveries carry the same numbers (``seq``); ``occurredAt`` rises with them. So
what is past retention is a prefix of each owner's order, read through the owner's own index
and deleted by ``_id`` (``app/store/purges.py``): the same cost at any size. A
``delete_many`` by ``occurredAt`` read every entry of the store on the embedded one (its date
ranges compile to no index) and held its write lock for the whole delete (2,000 entries:
another write waited 2.2 s).

Deleting a prefix also keeps the change feed without holes: an entry is never gone while an
older one of the same app stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from app.store import outbox, webhooks
from app.store.client import Store
from app.store.purges import delete_ids

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Owner:
    """An app's change events or an endpoint's deliveries."""

    collection: str
    query: Mapping[str, Any]
    order: str


async def owners(store: Store) -> list[Owner]:
    """Every app with change events and every webhook endpoint: one document each, read in
    ``_id`` order (ids only)."""
    apps = outbox.counters(store).find({}, {"_id": 1}).sort("_id", ASCENDING)
    endpoints = webhooks.endpoints(store).find({}, {"_id": 1}).sort("_id", ASCENDING)
    return [
        *[Owner(outbox.events(store).name, outbox.numbered_after(str(app["_id"]), 0), "_id") async for app in apps],
        *[Owner(webhooks.deliveries(store).name, {"endpointId": str(e["_id"])}, "seq") async for e in endpoints],
    ]


async def trim(store: Store, owner: Owner, older_than: datetime, limit: int) -> tuple[int, bool]:
    """Delete up to ``limit`` of ``owner``'s oldest documents that occurred before
    ``older_than``; returns how many were deleted and whether more may be past retention."""
    documents: AsyncCollection[Document] = store.db[owner.collection]
    first = await _oldest(documents, owner, 1)
    if not first or first[0]["occurredAt"] >= older_than:
        return 0, False  # the usual pass: one document read per owner
    expired: list[Any] = []
    for document in await _oldest(documents, owner, limit):
        if document["occurredAt"] >= older_than:
            break
        expired.append(document["_id"])
    return await delete_ids(documents, expired), len(expired) == limit


async def _oldest(documents: AsyncCollection[Document], owner: Owner, count: int) -> list[Document]:
    cursor = documents.find(owner.query, {"_id": 1, "occurredAt": 1}).sort(owner.order, ASCENDING)
    return await cursor.limit(count).batch_size(count).to_list()
