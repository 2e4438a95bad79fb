"""UserPatch and UpsertUserInput: omitted fields are left alone, explicit nulls remove."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.domain.profile import UserPatch as DomainUserPatch
from app.graphql.inputs import maybe
from app.graphql.inputs.attributes import CustomAttributeInput
from app.graphql.inputs.channels import ChannelInput


@strawberry.input(description="Changes to a user. Omitted fields are left alone; an explicit null removes.")
class UserPatch:
    external_user_id: strawberry.Maybe[str | None] = strawberry.field(
        description='Set once; "null"/"Null"/"NULL" count as null.'
    )
    given_name: strawberry.Maybe[str | None] = strawberry.field(description="Given name.")
    first_name: strawberry.Maybe[str | None] = strawberry.field(description="Alias of givenName.")
    surname: strawberry.Maybe[str | None] = strawberry.field(description="Surname.")
    last_name: strawberry.Maybe[str | None] = strawberry.field(description="Alias of surname.")
    middle_name: strawberry.Maybe[str | None] = strawberry.field(description="Middle name.")
    gender: strawberry.Maybe[str | None] = strawberry.field(description="Gender (free text).")
    birthday: strawberry.Maybe[date | None] = strawberry.field(description="Date of birth.")
    signed_up_at: strawberry.Maybe[datetime | None] = strawberry.field(
        description="When the person signed up (with an offset); defaults to the creation time."
    )
    preferred_language: strawberry.Maybe[str | None] = strawberry.field(description="BCP 47 tag.")
    timezone: strawberry.Maybe[str | None] = strawberry.field(description="IANA time zone.")
    emails: strawberry.Maybe[list[str] | None] = strawberry.field(description="Replaces the list.")
    phones: strawberry.Maybe[list[str] | None] = strawberry.field(description="E.164; replaces the list.")
    tags: strawberry.Maybe[list[str] | None] = strawberry.field(description="Replaces the set.")
    custom_attributes: list[CustomAttributeInput] | None = strawberry.field(
        default=None, description="Sets (or, with null values, removes) these keys; other keys are left alone."
    )
    channels: list[ChannelInput] | None = strawberry.field(
        default=None, description="Adds these channels (a known endpoint is updated); other channels are left alone."
    )

    def to_domain(self) -> DomainUserPatch:
        return DomainUserPatch(
            external_user_id=maybe(self.external_user_id),
            given_name=maybe(self.given_name if self.given_name is not None else self.first_name),
            surname=maybe(self.surname if self.surname is not None else self.last_name),
            middle_name=maybe(self.middle_name),
            gender=maybe(self.gender),
            birthday=maybe(self.birthday),
            signed_up_at=maybe(self.signed_up_at),
            preferred_language=maybe(self.preferred_language),
            timezone=maybe(self.timezone),
            emails=maybe(self.emails),
            phones=maybe(self.phones),
            tags=maybe(self.tags),
            custom_attributes=[(item.key, item.value.to_domain()) for item in self.custom_attributes or []],
            channels=[item.to_domain() for item in self.channels] if self.channels else None,
        )


@strawberry.input(
    description="A user named by externalUserId, or else by its first email or phone, with the fields of UserPatch."
)
class UpsertUserInput(UserPatch):
    pass
