"""Relay global ids: base64 of "<Type>:<id>", opaque to clients."""

from __future__ import annotations

import base64
import binascii

from app.domain.errors import DomainError, ErrorCode


def encode_id(type_name: str, raw_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, str] | None:
    if len(global_id) > 200:
        return None
    try:
        text = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, separator, raw_id = text.partition(":")
    if not separator or not type_name or not raw_id:
        return None
    return type_name, raw_id


def decode_id(global_id: str, expected_type: str, field: tuple[str, ...]) -> str:
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] != expected_type:
        raise DomainError(ErrorCode.INVALID_INPUT, f"not a valid {expected_type} id", field)
    return decoded[1]
