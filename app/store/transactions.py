"""Multi-document transactions (MongoDB needs a replica set; the compose file runs one).

MongoDB runs transactions concurrently and labels write conflicts
``TransientTransactionError``; the driver's ``with_transaction`` retries those.

The embedded server (mongoeco 4.11) needs more, found by experiment:
- Its SQLite engine allows one open transaction at a time (a second fails with "already
  has an active transaction"), so transactions take a per-process lock (the embedded
  server belongs to this process). Commands of other sessions are held back by the
  server while a transaction is open (app/store/embedded_gate.py).
- Its memory engine fails a commit with "Write conflict" when any other write ran on the
  server since the transaction started (possible when the gate's wait ran out).
  (``store.embedded_workarounds`` turns these on, also for gateways that share a
  ``profile-gateway store`` process, where the gate alone orders transactions between them.) Neither
  error carries the transient label, so such a transaction is run again here.
- After such a failed commit the server keeps the transaction open on that session id.
  The driver pools session ids, so later operations, even ones outside any transaction,
  would run inside the stale transaction and their writes would never be committed. The
  failed transaction is therefore aborted explicitly.

A transaction the store refuses for load (conflicts that retries did not settle, an
aborted or expired transaction, a lock or time limit) raises ``StoreBusy``: the client is
told to retry (UNAVAILABLE), never an internal error. A store that cannot be reached
inside a transaction raises ``StoreUnreachable`` at once: the driver's own loop would run the
transaction again for up to two minutes on its transient label.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from app.store.client import Store
from app.store.errors import StoreBusy, StoreUnreachable

EMBEDDED_ATTEMPTS = 12
# "database is locked": its SQLite engine under load (the lock is held a moment longer).
_EMBEDDED_CONFLICTS = ("Write conflict", "active transaction bound to another session", "database is locked")
# WriteConflict, LockTimeout, MaxTimeMSExpired, TransactionTooOld, NoSuchTransaction,
# ExceededTimeLimit, TransactionExceededLifetimeLimitSeconds.
_BUSY_CODES = frozenset({112, 24, 50, 225, 251, 262, 290})


def _embedded_conflict(error: OperationFailure) -> bool:
    return any(text in str(error) for text in _EMBEDDED_CONFLICTS)


async def _run_embedded[T](store: Store, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    async with store.client.start_session() as session:
        try:
            return await session.with_transaction(
                work, read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
            )
        except OperationFailure:
            with contextlib.suppress(PyMongoError):
                await store.client.admin.command("abortTransaction", session=session)
            raise


def _busy(error: OperationFailure) -> bool:
    if isinstance(error, DuplicateKeyError):
        return False  # a lost race on a unique index: the caller decides
    return error.code in _BUSY_CODES or _embedded_conflict(error) or "transaction" in str(error).lower()


async def in_transaction[T](store: Store, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; it may run more than once, so it must only
    touch the store through the session it is given (and raise to abort)."""

    async def bounded(session: AsyncClientSession) -> T:
        try:
            return await work(session)
        except ConnectionFailure as error:
            raise StoreUnreachable(str(error)) from error

    try:
        return await _in_transaction(store, bounded)
    except OperationFailure as error:
        if _busy(error):
            raise StoreBusy(f"the store refused the transaction: {error}") from error
        raise


async def _in_transaction[T](store: Store, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    if not store.embedded_workarounds:
        async with store.client.start_session() as session:
            return await session.with_transaction(
                work, read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
            )
    for attempt in range(EMBEDDED_ATTEMPTS):
        try:
            async with store.transaction_lock:
                return await _run_embedded(store, work)
        except OperationFailure as error:
            if not _embedded_conflict(error) or attempt == EMBEDDED_ATTEMPTS - 1:
                raise
        await asyncio.sleep(random.uniform(0.001, 0.004) * (attempt + 1))  # noqa: S311
    raise AssertionError("unreachable")
