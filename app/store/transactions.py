"""Multi-document transactions (MongoDB needs a replica set; the compose file runs one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from app.store.client import Store


async def in_transaction[T](store: Store, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; the driver retries it on transient errors."""
    async with store.client.start_session() as session:
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )
