"""The embedded store's transaction gate reads just enough of each command: whose session it is,
and whether it opens or ends a transaction. A command's documents are never decoded."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import bson
from bson.binary import Binary, UuidRepresentation
from mongoeco.wire.protocol import OP_MSG, MessageHeader

from app.store.embedded_gate import _peek


def _lsid(session: uuid.UUID) -> dict[str, Any]:
    return {"id": Binary.from_uuid(session, UuidRepresentation.STANDARD)}


def _message(body: dict[str, Any], documents: bytes = b"", *, checksum: bool = False) -> tuple[Any, bytes]:
    sections = b"\x00" + bson.encode(body)
    if documents:
        sequence = b"documents\x00" + documents
        sections += b"\x01" + struct.pack("<i", 4 + len(sequence)) + sequence
    payload = struct.pack("<I", 1 if checksum else 0) + sections + (b"\x00\x00\x00\x00" if checksum else b"")
    return MessageHeader(message_length=16 + len(payload), request_id=1, response_to=0, op_code=OP_MSG), payload


def test_a_session_is_recognised_with_its_transaction_start_and_end() -> None:
    one, other = uuid.uuid4(), uuid.uuid4()
    first = _peek(*_message({"find": "users", "lsid": _lsid(one), "startTransaction": True}))
    again = _peek(*_message({"insert": "history", "lsid": _lsid(one), "txnNumber": 1}))
    commit = _peek(*_message({"commitTransaction": 1, "lsid": _lsid(one)}, checksum=True))
    elsewhere = _peek(*_message({"find": "users", "lsid": _lsid(other)}))
    assert first[1:] == (True, False) and again[1:] == (False, False) and commit[1:] == (False, True)
    assert first[0] == again[0] == commit[0] != elsewhere[0]
    assert _peek(*_message({"hello": 1})) == (None, False, False)


def test_documents_of_a_write_are_not_decoded() -> None:
    # The documents' section is not BSON at all: only the body is read, so this still passes.
    header, payload = _message({"insert": "history", "lsid": _lsid(uuid.uuid4())}, documents=b"\x05\x00\x00\x00\xff")
    key, starts, ends = _peek(header, payload)
    assert key is not None and (starts, ends) == (False, False)


def test_malformed_messages_pass_to_the_server_to_refuse() -> None:
    header, payload = _message({"find": "users", "lsid": _lsid(uuid.uuid4())})
    assert _peek(header, payload[:12]) == (None, False, False)
    assert _peek(header, payload[:4] + b"\x00\xff\xff\xff\x7f") == (None, False, False)
