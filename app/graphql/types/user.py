"""The User type: a profile document shaped for clients."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.relay import PageInfo

from app.domain import listing, preferences, push_destinations
from app.domain.channel_documents import channels_of
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.domain.errors import DomainError, ErrorCode
from app.domain.history import is_event_id
from app.domain.paging import check_page_size
from app.domain.profile import ProfileType as DomainProfileType
from app.graphql.access import Info
from app.graphql.enums import described_enum
from app.graphql.errors import user_errors
from app.graphql.ids import decode_id, encode_id
from app.graphql.types.attributes import CustomAttribute, custom_attributes_of, one_custom_attribute
from app.graphql.types.channels import Channel, ChannelType
from app.graphql.types.history import (
    ProfileEvent,
    ProfileEventConnection,
    ProfileEventEdge,
)
from app.graphql.types.node import Node
from app.graphql.types.preferences import Preferences, preferences_of

if TYPE_CHECKING:
    from app.graphql.types.installation import Installation

MAX_PAGE_SIZE = 100

described_enum(
    DomainProfileType,
    name="ProfileType",
    description="LEAD: unverified, anonymous or contact data only. CUSTOMER: personalized with an identity.",
    values={
        DomainProfileType.LEAD: "Anonymous, or known only by unverified contact data.",
        DomainProfileType.CUSTOMER: "Personalized with an identity (externalUserId, verified email or phone).",
    },
)
ProfileType = DomainProfileType  # registered above; an alias stays usable as a type


@strawberry.type(description="One person's profile in an app.")
class User(Node):
    document: strawberry.Private[dict[str, Any]]

    @classmethod
    def of(cls, document: dict[str, Any]) -> User:
        return cls(id=strawberry.ID(encode_id("User", document["_id"])), document=document)

    @strawberry.field(description="The business's own id for this person; never changes once set.")
    def external_user_id(self) -> str | None:
        return self.document.get("externalUserId")

    @strawberry.field(description="LEAD or CUSTOMER.")
    def type(self) -> ProfileType:
        return DomainProfileType(self.document["type"])

    @strawberry.field(description="True when the user has an externalUserId.")
    def identified(self) -> bool:
        return bool(self.document.get("externalUserId"))

    @strawberry.field(description="Given name (alias: first name).")
    def given_name(self) -> str | None:
        return self.document.get("givenName")

    @strawberry.field(description="Surname (alias: last name).")
    def surname(self) -> str | None:
        return self.document.get("surname")

    @strawberry.field(description="Middle name.")
    def middle_name(self) -> str | None:
        return self.document.get("middleName")

    @strawberry.field(description="Gender, as the business records it (free text).")
    def gender(self) -> str | None:
        return self.document.get("gender")

    @strawberry.field(description="Date of birth.")
    def birthday(self) -> date | None:
        value = self.document.get("birthday")
        return value.date() if value is not None else None

    @strawberry.field(description="When the person signed up; defaults to the profile's creation time.")
    def signed_up_at(self) -> datetime:
        value: datetime = self.document["signedUpAt"]
        return value

    @strawberry.field(description="BCP 47 language tag.")
    def preferred_language(self) -> str | None:
        return self.document.get("preferredLanguage")

    @strawberry.field(description="IANA time zone.")
    def timezone(self) -> str | None:
        return self.document.get("timezone")

    @strawberry.field(description="Email addresses (lower case).")
    def emails(self) -> list[str]:
        return list(self.document.get("emails", []))

    @strawberry.field(description="Phone numbers in E.164.")
    def phones(self) -> list[str]:
        return list(self.document.get("phones", []))

    @strawberry.field(
        description="Email addresses a lead typed in that nobody vouched for (lower case): contact data only. "
        "They never find, block or merge a user; personalize with an identity naming one promotes it to emails."
    )
    def unverified_emails(self) -> list[str]:
        return list(self.document.get("unverifiedEmails", []))

    @strawberry.field(
        description="Phone numbers (E.164) a lead typed in that nobody vouched for: contact data only, "
        "like unverifiedEmails."
    )
    def unverified_phones(self) -> list[str]:
        return list(self.document.get("unverifiedPhones", []))

    @strawberry.field(description="Tags for segmentation (a set).")
    def tags(self) -> list[str]:
        return list(self.document.get("tags", []))

    @strawberry.field(description="Custom attributes, sorted by key.")
    def custom_attributes(self) -> list[CustomAttribute]:
        return custom_attributes_of(self.document)

    @strawberry.field(description="One custom attribute, or null when it is not set.")
    def custom_attribute(
        self, key: Annotated[str, strawberry.argument(description="The attribute's key.")]
    ) -> CustomAttribute | None:
        return one_custom_attribute(self.document, key)

    @strawberry.field(
        description="Delivery endpoints, in the order they were added; only one type when given. "
        "Each enabled installation with a push token is listed as its platform's push channel "
        "(with its installation) while the user owns it."
    )
    async def channels(
        self,
        info: Info,
        type: Annotated[
            ChannelType | None, strawberry.argument(description="Only channels of this type; all when omitted.")
        ] = None,
    ) -> list[Channel]:
        kind = DomainChannelType(type) if type is not None else None
        effective = {**self.document, "channels": await self._effective_channels(info)}
        return [Channel.of(channel, self.document["_id"]) for channel in channels_of(effective, kind)]

    async def _effective_channels(self, info: Info, primary_only: bool = False) -> list[dict[str, Any]]:
        loaders = info.context.loaders
        owned = await loaders.installations_by_user_id.load(self.document["_id"])
        pending = push_destinations.registrations_to_check(self.document, owned)
        elsewhere: set[str] = set()
        if pending:
            found = await loaders.installation_by_push_registration_id.load_many(pending)
            elsewhere = {item["pushRegistrationId"] for item in found if item is not None}
        return push_destinations.effective_channels(self.document, owned, elsewhere, primary_only=primary_only)

    @strawberry.field(description="Language, time zone, and opt-outs per channel type and per category.")
    async def preferences(self, info: strawberry.Info) -> Preferences:
        found = await info.context.loaders.categories_by_app.load(self.document["appId"])
        return preferences_of(self.document, found)

    @strawberry.field(
        description="Whether a message of this category may go to this user on this channel type: "
        "mandatory category, else the user's category and channel-type choices; then an opted-in "
        "channel of that type must exist (for push: an enabled installation with a token). "
        "Undefined categories are never deliverable. primaryOnly: push only to primary devices."
    )
    async def can_receive(
        self,
        info: Info,
        category: Annotated[str, strawberry.argument(description="The preference category's name.")],
        channel: Annotated[ChannelType, strawberry.argument(description="The channel type the message would use.")],
        primary_only: Annotated[
            bool, strawberry.argument(description="For push: count only the user's primary devices.")
        ] = False,
    ) -> bool:
        found = await info.context.loaders.categories_by_app.load(self.document["appId"])
        defined = {item["name"]: item for item in found}
        effective = {**self.document, "channels": await self._effective_channels(info, primary_only)}
        return preferences.can_receive(effective, defined, category, DomainChannelType(channel))

    @strawberry.field(description="The user's installations (devices), oldest first.")
    async def installations(
        self, info: Info
    ) -> list[Annotated[Installation, strawberry.lazy("app.graphql.types.installation")]]:
        from app.graphql.types.installation import Installation

        documents = await info.context.loaders.installations_by_user_id.load(self.document["_id"])
        return [Installation.of(document) for document in documents]

    @strawberry.field(description="Profile events with time and actor, newest first.")
    async def history(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many events to return (0 to 100).")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The cursor of the last event already seen (endCursor of the previous page)."
            ),
        ] = None,
    ) -> ProfileEventConnection:
        # Paging mistakes are userErrors, as on users(first:, after:).
        try:
            check_page_size(first, listing.MAX_PAGE_SIZE, wording="after")
        except DomainError as error:
            return _refused_history(error)
        after_id = None
        if after is not None:
            try:
                after_id = decode_id(after, "ProfileEvent", ("after",))
            except DomainError:
                after_id = None
            if after_id is None or not is_event_id(after_id):
                return _refused_history(
                    DomainError(ErrorCode.INVALID_INPUT, "after is not a cursor of this connection", ("after",))
                )
        events, more = await info.context.loaders.history_pages.load((self.document["_id"], first, after_id))
        nodes = [ProfileEvent.of(event) for event in events]
        edges = [ProfileEventEdge(cursor=str(node.id), node=node) for node in nodes]
        return ProfileEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=more,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="When the profile was created.")
    def created_at(self) -> datetime:
        value: datetime = self.document["createdAt"]
        return value

    @strawberry.field(description="When the profile last changed.")
    def updated_at(self) -> datetime:
        value: datetime = self.document["updatedAt"]
        return value

    @strawberry.field(description="Grows by one on every change; pass it as expectedVersion for optimistic locking.")
    def version(self) -> int:
        value: int = self.document["version"]
        return value


def _refused_history(error: DomainError) -> ProfileEventConnection:
    empty = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None)
    return ProfileEventConnection(edges=[], page_info=empty, user_errors=user_errors(error))
