"""Field checks shared by the channel shapes: bounded text, ids, https URLs, base64 keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from app.domain.errors import DomainError, ErrorCode

Field = tuple[str | int, ...]

MAX_TOKEN_LENGTH = 4_096  # push tokens, access tokens
MAX_ID_LENGTH = 256  # Slack/Teams ids, pushRegistrationId
MAX_URL_LENGTH = 2_048
# Ids of Slack and Teams targets: printable, no whitespace (Teams ids hold ':', '@', '.').
TARGET_ID = re.compile(r"^[\x21-\x7e]+$")


def fingerprint(secret: str) -> str:
    """A one-way digest: a secret endpoint is recognised without being stored in plain text."""
    return hashlib.sha256(secret.encode()).hexdigest()


def text_field(value: Any, path: Field, maximum: int, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{what} must not be empty", path)
    if len(text) > maximum:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"{what} has at most {maximum} characters", path)
    return text


def required(values: Mapping[str, Any], name: str, path: Field) -> Any:
    value = values.get(name)
    if value is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} is required", (*path, name))
    return value


def token_field(value: Any, path: Field, what: str, maximum: int = MAX_TOKEN_LENGTH) -> str:
    text = text_field(value, path, maximum, what)
    if not TARGET_ID.fullmatch(text):  # fullmatch: "$" alone accepts a final newline
        raise DomainError(ErrorCode.INVALID_INPUT, f"{what} must be printable text without spaces", path)
    return text


def target_id(value: Any, path: Field, what: str) -> str:
    return token_field(value, path, what, MAX_ID_LENGTH)


def https_url(value: Any, path: Field, what: str) -> str:
    text = text_field(value, path, MAX_URL_LENGTH, what)
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme != "https" or not host or any(ch.isspace() for ch in text):
        raise DomainError(ErrorCode.INVALID_INPUT, f"{what} must be an https URL with a host", path)
    return text


def b64url(value: Any, path: Field, length: int, what: str) -> str:
    text = text_field(value, path, 256, what)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length or (what == "p256dh" and raw[0] != 4):
        raise DomainError(ErrorCode.INVALID_INPUT, f"{what} must be {length} bytes in URL-safe base64", path)
    return text
