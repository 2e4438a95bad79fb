"""The outbox: change events numbered in commit order, per app.

Each append increments the app's counter document (``outbox_counters``, keyed by the app
id) and inserts its events under ``<appId>:<seq>``, both through the caller's session. In a
transaction the counter is a write that every other writer of the app waits for (or, on
MongoDB, retries after a write conflict), so sequence numbers are handed out in commit
order and an aborted transaction leaves no number behind. A write outside a transaction
increments and inserts in two steps: for that moment a reader could see number n+1
before n; readers therefore stop at a hole until it is ``GAP_GRACE`` old (a hole that old
is a write that never completed, and is skipped).

No secondary index serves a read: an entry's ``_id`` is ``<appId>:<seq>`` with the number
zero-padded to 19 digits, so an app's entries after a position are an ``_id`` range read in
``_id`` order, which is commit order (the ``_id`` index on MongoDB; on the embedded store the
(appId, seq) index took a read of every entry of the store, 6 → 30 ms from 2,000 to 16,000).
Uniqueness comes from ``_id`` as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Store

Document = dict[str, Any]

GAP_GRACE = timedelta(seconds=5)
_SCAN_BATCH = 500


def events(store: Store) -> AsyncCollection[Document]:
    return store.db["outbox"]


def counters(store: Store) -> AsyncCollection[Document]:
    return store.db["outbox_counters"]


# Reads go by _id range, and retention trims each app's oldest entries by that range too
# (app/store/retention.py): no secondary index is left to maintain (app/store/indexes.py drops them).
RETIRED_INDEXES = ("app_seq", "occurred")
_LAST_SEQ = 10**19 - 1  # the largest number an entry id holds (19 digits)


def entry_id(app_id: str, seq: int) -> str:
    return f"{app_id}:{seq:019d}"


def numbered_after(app_id: str, position: int) -> Document:
    """The filter of an app's entries numbered after ``position``: a range of ``_id``."""
    return {"appId": app_id, "_id": {"$gt": entry_id(app_id, position), "$lte": entry_id(app_id, _LAST_SEQ)}}


async def append(
    store: Store, app_id: str, new_events: Sequence[Document], session: AsyncClientSession | None = None
) -> list[Document]:
    """Number and store ``new_events`` (bodies without ids); returns the stored entries."""
    if not new_events:
        return []
    counter = await counters(store).find_one_and_update(
        {"_id": app_id},
        {"$inc": {"seq": len(new_events)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    assert counter is not None  # an upsert returning the document after always finds one
    first = int(counter["seq"]) - len(new_events) + 1
    entries = [
        {**event, "_id": entry_id(app_id, first + offset), "seq": first + offset, "id": f"evt_{ObjectId()}"}
        for offset, event in enumerate(new_events)
    ]
    await events(store).insert_many(entries, session=session)
    return entries


async def number_handed_out(store: Store, app_id: str) -> int:
    """The last number the app's counter handed out (0 before its first event): a look-up by
    ``_id``, the cheapest read on either store."""
    counter = await counters(store).find_one({"_id": app_id})
    return int(counter["seq"]) if counter else 0


async def numbers_handed_out(store: Store, app_ids: Sequence[str]) -> dict[str, int]:
    """Per app, the last number its counter handed out (apps without events are missing):
    an endpoint whose cursor is there has nothing to fan out."""
    found = counters(store).find({"_id": {"$in": list(app_ids)}})
    return {str(counter["_id"]): int(counter["seq"]) async for counter in found}


async def get_many(store: Store, app_id: str, seqs: Sequence[int]) -> dict[int, Document]:
    """Entries by number (those past retention are missing)."""
    if not seqs:
        return {}
    found = events(store).find({"_id": {"$in": [entry_id(app_id, seq) for seq in seqs]}})
    return {int(entry["seq"]): entry async for entry in found}


@dataclass(slots=True)
class Page:
    entries: list[Document]
    last_seq: int  # where the next read resumes (past filtered-out entries too)
    more: bool


async def read(
    store: Store,
    app_id: str,
    after: int,
    first: int,
    now: datetime,
    types: Sequence[str] | None = None,
    max_scan: int = 5_000,
) -> Page:
    """Entries after ``after`` in commit order, up to the first hole younger than
    ``GAP_GRACE``; ``types`` filters without losing the position (the cursor moves past
    entries of other types)."""
    found: list[Document] = []
    position = after
    scanned = 0
    wanted = set(types) if types else None
    while scanned < max_scan:
        cursor = events(store).find(numbered_after(app_id, position)).sort("_id", ASCENDING).limit(_SCAN_BATCH)
        batch = await cursor.to_list()
        if not batch:
            return Page(found, position, False)
        for entry in batch:
            seq = int(entry["seq"])
            if seq != position + 1 and now - entry["occurredAt"] < GAP_GRACE:
                return Page(found, position, False)  # an earlier number may still commit
            if len(found) == first:
                return Page(found, position, True)
            position = seq
            scanned += 1
            if wanted is None or entry["type"] in wanted:
                found.append(entry)
        if len(batch) < _SCAN_BATCH:
            return Page(found, position, False)
    return Page(found, position, True)
