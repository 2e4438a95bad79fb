"""Channels as stored in the user document: sealing secrets, merging, limits.

Pure functions (no store access), shared by the channel operations and the profile patch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.crypto import SecretBox
from app.domain import limits
from app.domain.channel_fields import fingerprint
from app.domain.channel_specs import ChannelType, ValidChannel
from app.domain.errors import DomainError, ErrorCode
from app.store import ids

Document = dict[str, Any]
Field = tuple[str | int, ...]
Sealed = dict[str, str]


def seal(channel: ValidChannel, box: SecretBox) -> Sealed:
    """The channel's secrets encrypted, plus a digest that tells an unchanged secret apart
    (Fernet ciphertexts differ on every call, so they cannot be compared)."""
    if not channel.secrets:
        return {}
    plain = json.dumps(channel.secrets, sort_keys=True)
    return {"secret": box.encrypt(plain), "secretDigest": fingerprint(plain)}


def _matches(stored: Document, channel: ValidChannel) -> bool:
    if stored.get("type") != channel.type.value:
        return False
    if stored.get("key") == channel.key:
        return True
    # A push channel of an installation is the same channel after its token rotates.
    registration = channel.push_registration_id
    return registration is not None and stored.get("pushRegistrationId") == registration


def merge_channel(
    channels: list[Document], channel: ValidChannel, sealed: Sealed, now: datetime
) -> tuple[list[Document], Document]:
    """``channels`` with ``channel`` added, or the matching stored channel updated.

    Returns (channels, the stored channel); the list is ``channels`` itself when nothing changed.
    """
    index = next((i for i, stored in enumerate(channels) if _matches(stored, channel)), None)
    previous = channels[index] if index is not None else None
    opted_in = channel.opted_in
    if opted_in is None:  # not given: a new channel is opted in, a known one keeps its choice
        opted_in = previous["optedIn"] if previous is not None else True
    fresh: Document = {
        "id": previous["id"] if previous is not None else ids.new_id(),
        "type": channel.type.value,
        "key": channel.key,
        "optedIn": opted_in,
    }
    for name, value in (
        ("address", channel.address),
        ("provider", channel.provider),
        ("pushRegistrationId", channel.push_registration_id),
    ):
        if value is not None:
            fresh[name] = value
    fresh.update(channel.details)
    if sealed:
        same_secret = previous is not None and previous.get("secretDigest") == sealed["secretDigest"]
        fresh.update(
            {"secret": previous["secret"], "secretDigest": previous["secretDigest"]}
            if same_secret and previous is not None
            else sealed
        )
    fresh["createdAt"] = previous["createdAt"] if previous is not None else now
    if previous is not None and _without_time(previous) == _without_time(fresh):
        return channels, previous
    fresh["updatedAt"] = now
    result = list(channels)
    if index is None:
        result.append(fresh)
    else:
        result[index] = fresh
    return result, fresh


def _without_time(channel: Document) -> Document:
    return {key: value for key, value in channel.items() if key not in ("createdAt", "updatedAt")}


def check_channel_limit(channels: Sequence[Document], path: Field) -> None:
    if len(channels) > limits.MAX_CHANNELS_PER_USER:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a user has at most {limits.MAX_CHANNELS_PER_USER} channels",
            path,
        )


def merge_channels(
    channels: list[Document],
    items: Sequence[tuple[ValidChannel, Sealed]],
    path: Field,
    now: datetime,
) -> list[Document]:
    """``channels`` with each validated, sealed channel merged in; at most the per-user limit."""
    merged = channels
    for channel, sealed in items:
        merged, _ = merge_channel(merged, channel, sealed, now)
    check_channel_limit(merged, path)
    return merged


def channels_of(document: Document, kind: ChannelType | None = None) -> list[Document]:
    channels: list[Document] = document.get("channels", [])
    return [channel for channel in channels if kind is None or channel.get("type") == kind.value]
