"""Running a unit of work again when a concurrent one got there first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from app.domain.errors import DomainError, ErrorCode
from app.store import unit_of_work
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork


class StaleUser(Exception):
    """A user changed between read and write inside a unit of work: run it again."""


async def retry_transaction[T](
    store: Store,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    retry_on: tuple[type[Exception], ...],
    attempts: int,
    message: str,
    field: Sequence[str | int] = (),
    before_each: Callable[[int], Awaitable[None]] | None = None,
) -> T:
    """``work`` as one unit of work, again on ``retry_on`` (the caller's sign of a lost race),
    at most ``attempts`` times; then VERSION_CONFLICT with ``message``. ``before_each`` runs
    before every attempt (given its number, from 0), outside the unit of work."""
    for attempt in range(attempts):
        if before_each is not None:
            await before_each(attempt)
        try:
            return await unit_of_work.run(store, work)
        except retry_on:
            continue
    raise DomainError(ErrorCode.VERSION_CONFLICT, message, field)
