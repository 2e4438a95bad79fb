"""Channel operations on a user: add (idempotent per endpoint), remove, unset by type.

Each is one case of ``channel_changes.apply_changes``: one version-guarded write of the user
(and of a device's installation for its push channel), the profile limits checked on the result.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.crypto import SecretBox
from app.domain.actor import Actor
from app.domain.channel_changes import ChannelChanges, ChannelMatch, apply_changes
from app.domain.channel_documents import seal
from app.domain.channel_specs import ChannelSpec, ChannelType, validate_channel
from app.domain.profile import Document, Field
from app.domain.users import UserRef
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
    applied = await apply_changes(
        store, app_id, actor, ref, ChannelChanges(add=[(valid, seal(valid, box))], add_path=path)
    )
    return applied.user, applied.added_ids[0]


async def remove_channel(
    store: Store,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    channel_id: str,
    path: Field = ("channelId",),
) -> Document:
    """Remove one channel by id (NOT_FOUND when the user has none with that id)."""
    changes = ChannelChanges(
        remove=[(ChannelMatch(channel_id=channel_id), ("id", channel_id))], remove_path=path, remove_one=True
    )
    return (await apply_changes(store, app_id, actor, ref, changes)).user


async def unset_channels(
    store: Store, app_id: str, actor: Actor, ref: UserRef, types: Sequence[ChannelType]
) -> Document:
    """Remove every channel of these types; a user without such channels is left unchanged."""
    changes = ChannelChanges(unset=list(dict.fromkeys(types)), add_path=("types",))
    return (await apply_changes(store, app_id, actor, ref, changes)).user
