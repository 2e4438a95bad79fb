"""Idempotency records: the first response to a mutation, kept per app and key for a while.

A record goes through three states:

1. *claimed* by the request that first sent the key (before it runs);
2. *committed*: the unit of work that applied the request's change marks the record in the
   same transaction (``committed``, ``userIds``), so a change is never applied without its
   record saying so (app/store/unit_of_work.py);
3. *answered*: the response (status, body) is kept once the request finished.

A claim that is neither committed nor answered and older than ``ABANDONED_AFTER`` belonged to
a process that died: the next request takes it over. A committed record is never taken over:
its change was applied, so a retry is answered, never run again.

A TTL index on ``expiresAt`` lets MongoDB delete old records; reads also check the expiry
so that a store that does not enforce TTL indexes (mongoeco keeps them as plain indexes)
never replays a stale response.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from app.store.client import Store
from app.store.errors import StoreBusy

COLLECTION = "idempotency_keys"
# A claim whose request never finished (a crashed process) is taken over after this.
ABANDONED_AFTER = timedelta(minutes=2)

INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="ttl", expireAfterSeconds=0)]


@dataclass(frozen=True, slots=True)
class Recorded:
    fingerprint: str
    status: int | None  # None until the first request's response is kept
    content_type: str | None
    body: bytes | None
    committed: bool = False  # its change was applied
    finished: bool = False  # the first request ended without a response worth keeping
    user_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """The record the running request holds; ``token`` tells it apart from a later claim
    of the same key (after this one was abandoned)."""

    record_id: str
    token: str


class ClaimLost(StoreBusy):
    """The request's claim was taken over (it ran past ABANDONED_AFTER): its change must not
    commit. The client is told to retry (UNAVAILABLE) and then gets the other request's answer."""

    def __init__(self) -> None:
        super().__init__("the idempotency claim was taken over")


_CURRENT: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("idempotency_claim", default=None)


def current_claim() -> Claim | None:
    return _CURRENT.get()


def hold(claim: Claim | None) -> contextvars.Token[Claim | None]:
    """Make ``claim`` the running request's (every unit of work it commits marks it)."""
    return _CURRENT.set(claim)


def let_go(token: contextvars.Token[Claim | None]) -> None:
    _CURRENT.reset(token)


def _now() -> datetime:
    return datetime.now(UTC)


def collection(store: Store) -> AsyncCollection[dict[str, Any]]:
    return store.db[COLLECTION]


def _record_id(app_id: str, key: str) -> str:
    return hashlib.sha256(f"{app_id}\0{key}".encode()).hexdigest()


async def ensure_indexes(store: Store) -> None:
    await collection(store).create_indexes(INDEXES)


def _recorded(existing: dict[str, Any]) -> Recorded:
    return Recorded(
        existing["fingerprint"],
        existing.get("status"),
        existing.get("contentType"),
        bytes(existing["body"]) if "body" in existing else None,
        committed=bool(existing.get("committed")),
        finished=bool(existing.get("finished")),
        user_ids=tuple(existing.get("userIds", ())),
    )


async def claim(
    store: Store, app_id: str, key: str, fingerprint: str, ttl: timedelta
) -> tuple[Claim | None, Recorded | None]:
    """Claim the key for this request (a Claim), or return what an earlier request recorded."""
    now = _now()
    record_id = _record_id(app_id, key)
    token = secrets.token_hex(8)
    document = {
        "_id": record_id,
        "appId": app_id,
        "fingerprint": fingerprint,
        "claim": token,
        "createdAt": now,
        "expiresAt": now + ttl,
    }
    for _ in range(2):
        try:
            await collection(store).insert_one(document)
            return Claim(record_id, token), None
        except DuplicateKeyError:
            existing = await collection(store).find_one({"_id": record_id})
        if existing is None:
            continue  # expired and deleted in between
        abandoned = (
            "status" not in existing and not existing.get("committed") and existing["createdAt"] < now - ABANDONED_AFTER
        )
        if existing["expiresAt"] > now and not abandoned:
            recorded = _recorded(existing)
            if recorded.committed and recorded.status is None and existing["createdAt"] < now - ABANDONED_AFTER:
                # Its process died after the commit: the change stands, the answer is lost.
                recorded = dataclasses.replace(recorded, finished=True)
            return None, recorded
        await collection(store).delete_one({"_id": record_id, "createdAt": existing["createdAt"]})
    return None, None


async def mark_committed(store: Store, claim: Claim, user_ids: Sequence[str], session: AsyncClientSession) -> None:
    """Inside the unit of work's transaction: the change is applied under this key."""
    result = await collection(store).update_one(
        {"_id": claim.record_id, "claim": claim.token},
        {"$set": {"committed": True, "committedAt": _now()}, "$addToSet": {"userIds": {"$each": list(user_ids)}}},
        session=session,
    )
    if result.matched_count != 1:
        raise ClaimLost


async def complete(store: Store, claim: Claim, status: int, content_type: str, body: bytes) -> None:
    await collection(store).update_one(
        {"_id": claim.record_id, "claim": claim.token},
        {"$set": {"status": status, "contentType": content_type, "body": Binary(body)}},
    )


async def release(store: Store, claim: Claim) -> None:
    """The request ended without a response worth keeping (a retryable failure). A claim
    whose change never committed is forgotten, so the retry runs; a committed one is marked
    finished, so the retry is told the change was applied instead of applying it again."""
    selector = {"_id": claim.record_id, "claim": claim.token, "status": {"$exists": False}}
    deleted = await collection(store).delete_one({**selector, "committed": {"$exists": False}})
    if deleted.deleted_count == 0:
        await collection(store).update_one(selector, {"$set": {"finished": True}})
