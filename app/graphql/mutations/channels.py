"""Mutations on a user's channels."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain import channel_changes, channels
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.graphql.access import Info, owned_user_ref
from app.graphql.ids import decode_id
from app.graphql.inputs import given
from app.graphql.inputs.channels import ChannelInput, ChannelMatch
from app.graphql.inputs.refs import UserRefArgument
from app.graphql.mutations.codes import BOUNDED_USER_WRITE_CODES, USER_WRITE_CODES
from app.graphql.pipeline import TENANT, app_id_of, mutation
from app.graphql.types.channels import ChannelType
from app.graphql.types.payloads import UserPayload


@strawberry.type
class ChannelMutations:
    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES,
        description="Add a channel to a user. Adding an endpoint the user already has updates "
        "that channel "
        "(same id) instead of adding a second one. A push token for an installation the user owns "
        "(`pushRegistrationId`, same platform) is written onto that installation and follows the device.",
    )
    async def add_channel(
        self,
        info: Info,
        by: UserRefArgument,
        channel: Annotated[ChannelInput, strawberry.argument(description="The channel's type and endpoint.")],
    ) -> UserPayload:
        context = info.context
        ref = await owned_user_ref(info, by)
        document, _channel_id = await channels.add_channel(
            context.store, context.box, app_id_of(info), context.principal.actor, ref, channel.to_domain()
        )
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=USER_WRITE_CODES,
        description="Remove one channel of a user (NOT_FOUND when the user has no such channel).",
    )
    async def remove_channel(
        self,
        info: Info,
        by: UserRefArgument,
        channel_id: Annotated[
            strawberry.ID, strawberry.argument(description="The channel's id, as returned in its `id` field.")
        ],
    ) -> UserPayload:
        context = info.context
        raw_id = decode_id(channel_id, "Channel", ("channelId",))  # checked before the user is looked up
        ref = await owned_user_ref(info, by)
        document = await channels.remove_channel(context.store, app_id_of(info), context.principal.actor, ref, raw_id)
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=USER_WRITE_CODES,
        description="Remove every channel of the given types from a user.",
    )
    async def unset_channels(
        self,
        info: Info,
        by: UserRefArgument,
        types: Annotated[list[ChannelType], strawberry.argument(description="The channel types to remove.")],
    ) -> UserPayload:
        context = info.context
        ref = await owned_user_ref(info, by)
        kinds = [DomainChannelType(kind) for kind in types]
        document = await channels.unset_channels(context.store, app_id_of(info), context.principal.actor, ref, kinds)
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES,
        description="Apply several channel changes at once, all or nothing, with one version bump: "
        "`unset` (every channel of these types), then `remove` (by id or by value; NOT_FOUND when "
        "nothing matches), then `add` (as addChannel). Errors carry the input path, e.g. "
        '["add", "1", "email", "address"].',
    )
    async def update_channels(
        self,
        info: Info,
        by: UserRefArgument,
        add: Annotated[
            list[ChannelInput] | None, strawberry.argument(description="Channels to add (as addChannel).")
        ] = None,
        remove: Annotated[
            list[ChannelMatch] | None, strawberry.argument(description="Channels to remove, by id or by value.")
        ] = None,
        unset: Annotated[
            list[ChannelType] | None, strawberry.argument(description="Remove every channel of these types.")
        ] = None,
    ) -> UserPayload:
        context = info.context
        channel_changes.check_counts(add or [], remove or [], unset or [])  # limits first, then ids
        matches = [_match(item, index) for index, item in enumerate(remove or [])]  # before the look-up
        ref = await owned_user_ref(info, by)
        document = await channel_changes.update_channels(
            context.store,
            context.box,
            app_id_of(info),
            context.principal.actor,
            ref,
            add=[item.to_domain() for item in add or []],
            remove=matches,
            unset=[DomainChannelType(kind) for kind in unset or []],
        )
        return UserPayload.of(document, [])


def _match(item: ChannelMatch, index: int) -> channel_changes.ChannelMatch:
    if given(item.id):
        return channel_changes.ChannelMatch(channel_id=decode_id(item.id, "Channel", ("remove", str(index), "id")))
    value = item.value
    assert value is not None
    return channel_changes.ChannelMatch(
        type=DomainChannelType(value.type),
        address=value.address,
        incoming_webhook_url=value.incoming_webhook_url,
    )
