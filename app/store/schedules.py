"""Periodic background work that one process runs per period, whichever claims it first.

One document per job, by ``_id``: ``{_id: <job>, dueAt, claimedAt}``. A process that finds a job
due claims it by moving ``dueAt`` one period on, in one ``findAndModify`` by ``_id``; of N
gateway processes, the first claim of a period wins and the others find it not due. A process
that dies during its run leaves the rest of that period's work to the next period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from app.store.client import Document, Store
from app.store.errors import DuplicateKeyError


def collection(store: Store) -> AsyncCollection[Document]:
    return store.db["schedules"]


async def claim(store: Store, job: str, now: datetime, every: timedelta) -> bool:
    """Whether this process runs ``job`` now: it was due (or never ran), and this claim moved its
    next run ``every`` later."""
    try:
        await collection(store).find_one_and_update(
            {"_id": job, "dueAt": {"$lte": now}},
            {"$set": {"dueAt": now + every, "claimedAt": now}},
            upsert=True,
        )
    except DuplicateKeyError:
        return False  # the job exists and is not due: another process claimed this period
    return True
