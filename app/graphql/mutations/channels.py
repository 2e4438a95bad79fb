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
from app.graphql.types.channels import ChannelType
from app.graphql.types.payloads import UserPayload
from app.graphql.types.user import User


def _payload(document: dict[str, Any] | None, errors: list[Any]) -> UserPayload:
    return UserPayload(user=User.of(document) if document else None, user_errors=errors)


@strawberry.type
class ChannelMutations:
    @strawberry.mutation(
        description="Add a channel to a user. Adding an endpoint the user already has updates "
        "that channel "
        "(same id) instead of adding a second one."
    )
    async def add_channel(self, info: Info, by: UserRef, channel: ChannelInput) -> UserPayload:
        context = info.context

        async def work() -> dict[str, Any]:
            owner = await owned_user(info, by.to_domain())
            document, _channel_id = await channels.add_channel(
                context.store,
                context.box,
                owner["appId"],
                context.principal.actor,
                users.UserRef("id", owner["_id"]),
                channel.to_domain(),
            )
            return document

        document, errors = await collect_user_errors(work)
        return _payload(document, errors)

    @strawberry.mutation(description="Remove one channel of a user (NOT_FOUND when the user has no such channel).")
    async def remove_channel(self, info: Info, by: UserRef, channel_id: strawberry.ID) -> UserPayload:
        context = info.context

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
        return _payload(document, errors)

    @strawberry.mutation(description="Remove every channel of the given types from a user.")
    async def unset_channels(self, info: Info, by: UserRef, types: list[ChannelType]) -> UserPayload:
        context = info.context

        async def work() -> dict[str, Any]:
            owner = await owned_user(info, by.to_domain())
            return await channels.unset_channels(
                context.store,
                owner["appId"],
                context.principal.actor,
                users.UserRef("id", owner["_id"]),
                [DomainChannelType(kind) for kind in types],
            )

        document, errors = await collect_user_errors(work)
        return _payload(document, errors)
