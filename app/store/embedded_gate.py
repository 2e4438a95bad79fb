"""Transactions on the embedded server: one at a time, and nobody else in the middle.

mongoeco 4.11 (found by experiment, see also app/store/transactions.py):
- its SQLite engine fails every command of another session, reads included ("has an
  active transaction bound to another session"), while a transaction is open;
- its memory engine fails a transaction's commit ("Write conflict") when any other write
  ran on the server after the transaction started.

MongoDB lets other sessions carry on during a transaction. To give the embedded server
the same behaviour as seen by clients, this proxy holds commands of other sessions back
while a transaction is open (they run as soon as it commits or aborts) instead of letting
them fail. A transaction whose client vanished holds nobody back longer than
``wait_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from mongoeco.wire.protocol import OP_MSG
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

log = logging.getLogger(__name__)

# Longer than the client's socket timeout (10 s at the default store timeout): under
# overload a held command times out on the client side first, which the gateway reports as
# UNAVAILABLE (retryable), instead of running into a transaction and failing obscurely.
DEFAULT_WAIT_SECONDS = 30.0
_ENDS = ("commitTransaction", "abortTransaction", "endSessions")
_CHECKSUM_PRESENT = 1
_RAW_TOP_LEVEL: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)


class TransactionGatedProxyServer(AsyncMongoEcoProxyServer):
    def __init__(self, *args: Any, wait_seconds: float = DEFAULT_WAIT_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wait_seconds = wait_seconds
        self._owner: bytes | None = None  # session key of the open transaction
        self._released = asyncio.Event()
        self._others_running = 0  # commands running outside the open (or opening) transaction
        self._others_done = asyncio.Event()

    async def _dispatch_wire_request(self, header: Any, payload: bytes, *, connection: Any) -> bytes | None:
        session, starts, ends = _peek(header, payload)
        if session is None:
            # Handshakes and heartbeats carry no session and touch no data; holding them
            # back would stop the transaction's own client from opening a connection.
            response: bytes | None = await super()._dispatch_wire_request(header, payload, connection=connection)
            return response
        deadline = time.monotonic() + self._wait_seconds
        await self._wait_for_turn(session, deadline)
        owned = session == self._owner
        if starts and self._owner is None:
            # New commands of other sessions wait from now on; running ones finish first.
            self._owner, owned = session, True
            await self._wait_for_others(deadline)
        if not owned:
            self._others_running += 1
        try:
            response = await super()._dispatch_wire_request(header, payload, connection=connection)
            return response
        finally:
            if not owned:
                self._others_running -= 1
                if self._others_running == 0:
                    self._others_done.set()
            if ends and session == self._owner:
                self._release()

    async def _wait_for_turn(self, session: bytes | None, deadline: float) -> None:
        while self._owner is not None and self._owner != session:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # The command runs (and may fail) rather than wait forever. Also the sign of
                # a store call inside a transaction that forgot to pass its session.
                log.warning("a command waited %.1f s for an open transaction", self._wait_seconds)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), remaining)

    async def _wait_for_others(self, deadline: float) -> None:
        while self._others_running > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._others_done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._others_done.wait(), remaining)

    def _release(self) -> None:
        self._owner = None
        released, self._released = self._released, asyncio.Event()
        released.set()


def _peek(header: Any, payload: bytes) -> tuple[bytes | None, bool, bool]:
    """(session key, starts a transaction, ends one) of a command; unknown shapes pass.

    Only the command's body section is read, and only its top level: an insert's documents
    (a separate section) and nested values are never decoded, so the gate costs the same for
    a large write as for a small one. The session key is the raw bytes of ``lsid``, which
    names one session for as long as it lives."""
    body = _body_section(header, payload)
    if body is None:
        return None, False, False
    try:
        document = bson.decode(body, _RAW_TOP_LEVEL)
    except Exception:  # malformed messages are the server's to refuse
        return None, False, False
    lsid = document.get("lsid")
    if not isinstance(lsid, RawBSONDocument):
        return None, False, False
    ends = any(name in document for name in _ENDS)
    return bytes(lsid.raw), document.get("startTransaction") is True, ends


def _body_section(header: Any, payload: bytes) -> bytes | None:
    """The BSON bytes of an OP_MSG's body section (kind 0), or None."""
    if header.op_code != OP_MSG or len(payload) < 5:
        return None
    (flags,) = struct.unpack_from("<I", payload)
    end = len(payload) - (4 if flags & _CHECKSUM_PRESENT else 0)
    position = 4
    while position + 5 <= end:
        kind = payload[position]
        (size,) = struct.unpack_from("<i", payload, position + 1)
        if size <= 0 or position + 1 + size > end:
            return None
        if kind == 0:
            return payload[position + 1 : position + 1 + size]
        position += 1 + size
    return None
