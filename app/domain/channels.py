"""Channel operations on a user: add (idempotent per endpoint), remove, unset by type.

Channels live inside the user document, so every write goes through the version-guarded
``users.modify_user`` and the profile limits are checked on the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.crypto import SecretBox
from app.domain.actor import Actor
from app.domain.channel_documents import check_channel_limit, merge_channel, seal
from app.domain.channel_specs import ChannelSpec, ChannelType, validate_channel
from app.domain.errors import not_found
from app.domain.history import EventKind
from app.domain.profile import Document, Field, check_document_limits
from app.domain.users import UserRef, modify_user
from app.store.client import Store


async def add_channel(
    store: Store,
    box: SecretBox,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    spec: ChannelSpec,
    path: Field = ("channel",),
) -> tuple[Document, str]:
    """Add a channel, or update the stored one for the same endpoint. Returns (user, channel id)."""
    valid = validate_channel(spec, path)
    sealed = seal(valid, box)
    # Filled by the change below and recorded by modify_user once the write succeeded.
    details: dict[str, Any] = {"type": valid.type.value}

    def change(document: Document, now: datetime) -> Document:
        channels, stored = merge_channel(document.get("channels", []), valid, sealed, now)
        details["channelId"] = stored["id"]
        if channels is document.get("channels", []):
            return document
        check_channel_limit(channels, path)
        result = {**document, "channels": channels}
        check_document_limits(result, path)
        return result

    user = await modify_user(
        store, app_id, actor, ref, change, path=path, details=details, event=EventKind.CHANNEL_ADDED
    )
    return user, details["channelId"]


async def remove_channel(
    store: Store,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    channel_id: str,
    path: Field = ("channelId",),
) -> Document:
    details: dict[str, Any] = {"channelId": channel_id}

    def change(document: Document, now: datetime) -> Document:
        channels = document.get("channels", [])
        kept = [channel for channel in channels if channel.get("id") != channel_id]
        if len(kept) == len(channels):
            raise not_found("the channel", path)
        details["type"] = next(channel["type"] for channel in channels if channel.get("id") == channel_id)
        return {**document, "channels": kept}

    return await modify_user(
        store,
        app_id,
        actor,
        ref,
        change,
        path=path,
        details=details,
        event=EventKind.CHANNEL_REMOVED,
    )


async def unset_channels(
    store: Store, app_id: str, actor: Actor, ref: UserRef, types: Sequence[ChannelType]
) -> Document:
    """Remove every channel of these types; a user without such channels is left unchanged."""
    wanted = {kind.value for kind in types}
    details: dict[str, Any] = {"types": sorted(wanted)}

    def change(document: Document, now: datetime) -> Document:
        channels = document.get("channels", [])
        kept = [channel for channel in channels if channel.get("type") not in wanted]
        details["channelIds"] = [channel["id"] for channel in channels if channel.get("type") in wanted]
        return document if len(kept) == len(channels) else {**document, "channels": kept}

    return await modify_user(
        store,
        app_id,
        actor,
        ref,
        change,
        path=("types",),
        details=details,
        event=EventKind.CHANNEL_REMOVED,
    )
