"""Which driver errors mean "the store cannot be reached now" (retryable) rather than a bug."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WaitQueueTimeoutError
from pymongo.errors import DuplicateKeyError as DuplicateKeyError  # a lost race on a unique index

_TRANSIENT_LABELS = ("TransientTransactionError", "RetryableWriteError", "NoWritesPerformed")


class StoreBusy(PyMongoError):
    """The store refused a transaction for load, not for a bug (a lost race that retries did
    not settle, an aborted transaction): the client may retry."""


class StoreUnreachable(PyMongoError):
    """The store could not be reached inside a transaction. Raised in place of the driver's
    error, which carries a transient label: the driver would otherwise run the transaction
    again for up to two minutes while the store is down."""


def is_unavailable(error: PyMongoError) -> bool:
    """True for network failures, server selection and operation timeouts, transient labels and
    transactions refused under load (StoreBusy).

    Server-side refusals (duplicate keys, bad queries) stay bugs: they are masked, not retried.
    """
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WaitQueueTimeoutError | StoreBusy | StoreUnreachable):
        return True
    return any(error.has_error_label(label) for label in _TRANSIENT_LABELS)
