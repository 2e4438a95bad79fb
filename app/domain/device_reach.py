"""What ``hasChannel: ANDROID_PUSH / IOS_PUSH`` matches besides stored channels: the push
destinations a user's installations give it.

``User.channels`` derives a push channel from every enabled installation with a token
(app/domain/push_destinations.py, whose ``device_channel_types`` gives their types). The
filter reads one indexed list on the user, ``channelTypes``, so those types are kept on the
user as ``deviceChannelTypes`` and folded into ``channelTypes``. Every unit of work that
changes an installation's owner, platform, token or push flag names the users concerned with
``devices_changed``; the types are recomputed from their installations once, as the unit
leaves them, just before it commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.domain.push_destinations import device_channel_types
from app.store import installations as installations_store
from app.store import users as users_store
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

# What decides whether an installation is a push destination: a write that changes none of
# these (an app's launch re-sending the same token) leaves its user's types alone.
PUSH_REACH_FIELDS = installations_store.PUSH_REACH_FIELDS


def devices_changed(unit: UnitOfWork, app_id: str, *user_ids: str) -> None:
    """The installations of these users changed in this unit: their push types are
    recomputed before it commits."""
    for user_id in user_ids:
        unit.at_commit(("device-channel-types", app_id, user_id), _refresh(unit, app_id, user_id))


def _refresh(unit: UnitOfWork, app_id: str, user_id: str) -> Callable[[], Awaitable[None]]:
    async def refresh() -> None:
        owned = await installations_store.push_fields_of_user(unit, app_id, user_id)
        await users_store.set_device_channel_types(unit, app_id, user_id, device_channel_types(owned))

    return refresh


async def backfill_device_channel_types(store: Store) -> int:
    """Give users stored before ``deviceChannelTypes`` existed the push types of their
    installations; done once. Returns how many users were set."""
    return await users_store.backfill_device_channel_types(store, device_channel_types)
