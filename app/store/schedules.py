"""Periodic background work that one process runs per period, whichever claims it first.

One document per job, by ``_id``: ``{_id: <job>, dueAt, claimedAt, owner, leaseUntil, progress}``.
A process that finds a job due claims it by moving ``dueAt`` one period on, in one
``findAndModify`` by ``_id``; of N gateway processes, the first claim of a period wins and the
others find it not due. The claimer holds the period's run under a lease: it saves how far it
got (``progress``) and renews the lease as it goes, and clears both when done. A process that
dies mid-run stops renewing; once its lease has lapsed, another process takes the run over from
the last saved progress (``take_over``), and the first owner, should it come back, finds on its
next save that it no longer owns the run and stops.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Document, Store
from app.store.errors import DuplicateKeyError


@dataclass(frozen=True, slots=True)
class Lease:
    """This process's hold on a job's run: its owner token and the progress it starts from
    (empty for a run that has not saved any)."""

    owner: str
    progress: dict[str, Any]


def collection(store: Store) -> AsyncCollection[Document]:
    return store.db["schedules"]


async def claim(store: Store, job: str, now: datetime, every: timedelta, lease: timedelta) -> Lease | None:
    """This period's run of ``job``, if it was due (or never ran) and this claim moved its next
    run ``every`` later; None when another process has claimed it."""
    owner = secrets.token_hex(8)
    try:
        await collection(store).find_one_and_update(
            {"_id": job, "dueAt": {"$lte": now}},
            {
                "$set": {
                    "dueAt": now + every,
                    "claimedAt": now,
                    "owner": owner,
                    "leaseUntil": now + lease,
                    "progress": {},
                }
            },
            upsert=True,
        )
    except DuplicateKeyError:
        return None  # the job exists and is not due: another process claimed this period
    return Lease(owner, {})


async def take_over(store: Store, job: str, now: datetime, lease: timedelta) -> Lease | None:
    """The run of ``job`` that its owner left unfinished and stopped renewing, from its last
    saved progress; None when no run is unfinished or its lease still holds."""
    owner = secrets.token_hex(8)
    taken = await collection(store).find_one_and_update(
        {"_id": job, "progress": {"$exists": True}, "leaseUntil": {"$lte": now}},
        {"$set": {"owner": owner, "leaseUntil": now + lease}},
        return_document=ReturnDocument.AFTER,
    )
    return None if taken is None else Lease(owner, dict(taken["progress"]))


async def save(store: Store, job: str, owner: str, progress: dict[str, Any], now: datetime, lease: timedelta) -> bool:
    """Record how far the run got and renew its lease; False when ``owner`` no longer holds it
    (another process took it over): then the caller stops."""
    saved = await collection(store).update_one(
        {"_id": job, "owner": owner}, {"$set": {"progress": progress, "leaseUntil": now + lease}}
    )
    return saved.matched_count == 1


async def finish(store: Store, job: str, owner: str) -> None:
    """The run is done: nothing is left for another process to take over."""
    await collection(store).update_one({"_id": job, "owner": owner}, {"$unset": {"progress": "", "leaseUntil": ""}})
