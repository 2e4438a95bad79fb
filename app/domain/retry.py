"""Running a transaction again when a concurrent one got there first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo.asynchronous.client_session import AsyncClientSession

from app.domain.errors import DomainError, ErrorCode
from app.store.client import Store
from app.store.transactions import in_transaction


async def retry_transaction[T](
    store: Store,
    work: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    retry_on: tuple[type[Exception], ...],
    attempts: int,
    message: str,
) -> T:
    """``work`` in a transaction, again on ``retry_on`` (the caller's sign of a lost race),
    at most ``attempts`` times; then VERSION_CONFLICT with ``message``."""
    for _ in range(attempts):
        try:
            return await in_transaction(store, work)
        except retry_on:
            continue
    raise DomainError(ErrorCode.VERSION_CONFLICT, message)
