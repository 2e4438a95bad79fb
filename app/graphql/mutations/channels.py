"""Mutations on a user's channels."""

from __future__ import annotations

from typing import Any

import strawberry

from app.domain import channels, users
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.graphql.access import Info, owned_user
from app.graphql.errors import collect_user_errors
from app.graphql.ids import decode_id
from app.graphql.inputs.channels import ChannelInput
from app.graphql.inputs.refs import UserRef
from app.graphql.mutations.owned import OwnedUser, change_owned_user
from app.graphql.types.channels import ChannelType
from app.graphql.types.payloads import UserPayload


@strawberry.type
class ChannelMutations:
    @strawberry.mutation(
        description="Add a channel to a user. Adding an endpoint the user already has updates "
        "that channel "
        "(same id) instead of adding a second one."
    )
    async def add_channel(self, info: Info, by: UserRef, channel: ChannelInput) -> UserPayload:
        box = info.context.box

        async def add(user: OwnedUser) -> dict[str, Any]:
            document, _channel_id = await channels.add_channel(
                user.store, box, user.app_id, user.actor, user.ref, channel.to_domain()
            )
            return document

        return await change_owned_user(info, by, add)

    @strawberry.mutation(description="Remove one channel of a user (NOT_FOUND when the user has no such channel).")
    async def remove_channel(self, info: Info, by: UserRef, channel_id: strawberry.ID) -> UserPayload:
        context = info.context

        # Not change_owned_user: the channel id is checked before the user is looked up.
        async def work() -> dict[str, Any]:
            raw_id = decode_id(channel_id, "Channel", ("channelId",))
            owner = await owned_user(info, by.to_domain())
            return await channels.remove_channel(
                context.store,
                owner["appId"],
                context.principal.actor,
                users.UserRef("id", owner["_id"]),
                raw_id,
            )

        document, errors = await collect_user_errors(work)
        return UserPayload.of(document, errors)

    @strawberry.mutation(description="Remove every channel of the given types from a user.")
    async def unset_channels(self, info: Info, by: UserRef, types: list[ChannelType]) -> UserPayload:
        return await change_owned_user(
            info,
            by,
            lambda user: channels.unset_channels(
                user.store, user.app_id, user.actor, user.ref, [DomainChannelType(kind) for kind in types]
            ),
        )
