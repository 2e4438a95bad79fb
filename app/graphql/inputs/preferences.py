"""Inputs of updatePreferences and definePreferenceCategory."""

from __future__ import annotations

import strawberry

from app.domain.categories import CategoryInput
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.domain.preferences import CategoryChoice, PreferencesPatch
from app.graphql.inputs import maybe
from app.graphql.types.channels import ChannelType


@strawberry.input(description="Opt in or out of one channel type within a category.")
class ChannelPreferenceInput:
    type: ChannelType = strawberry.field(description="The channel type this choice is for.")
    opted_in: bool = strawberry.field(description="Whether the user wants this category on this channel type.")


@strawberry.input(description="A user's choice for one category.")
class CategoryPreferenceInput:
    category: str = strawberry.field(description="A category defined with definePreferenceCategory.")
    opted_in: strawberry.Maybe[bool | None] = strawberry.field(
        description="Omitted: unchanged; null: back to the category's default."
    )
    channels: strawberry.Maybe[list[ChannelPreferenceInput] | None] = strawberry.field(
        description="Per-channel-type overrides; replace the stored ones. Null clears them."
    )

    def to_domain(self) -> CategoryChoice:
        channels = maybe(self.channels)
        return CategoryChoice(
            category=self.category,
            opted_in=maybe(self.opted_in),
            channels=[(DomainChannelType(item.type), item.opted_in) for item in channels]
            if isinstance(channels, list)
            else channels,
        )


@strawberry.input(description="Changes to a user's preferences. Omitted fields are left alone; null resets.")
class PreferencesInput:
    language: strawberry.Maybe[str | None] = strawberry.field(description="BCP 47 tag.")
    timezone: strawberry.Maybe[str | None] = strawberry.field(description="IANA time zone.")
    opted_out_channel_types: strawberry.Maybe[list[ChannelType] | None] = strawberry.field(
        description="Replaces the channel types the user opted out of."
    )
    categories: list[CategoryPreferenceInput] | None = strawberry.field(
        default=None, description="Choices per category; categories not listed are left alone."
    )

    def to_domain(self) -> PreferencesPatch:
        types = maybe(self.opted_out_channel_types)
        return PreferencesPatch(
            language=maybe(self.language),
            timezone=maybe(self.timezone),
            opted_out_channel_types=[DomainChannelType(kind) for kind in types] if isinstance(types, list) else types,
            categories=[item.to_domain() for item in self.categories or []],
        )


@strawberry.input(description="A preference category of the app.")
class PreferenceCategoryInput:
    name: str = strawberry.field(description="A letter, then up to 63 letters, digits, '_' or '-'.")
    description: str | None = strawberry.field(default=None, description="What the category is for, shown to users.")
    default_opted_in: bool = strawberry.field(default=True, description="The choice of users who never chose.")
    mandatory: bool = strawberry.field(default=False, description="Users cannot opt out (e.g. security notices).")

    def to_domain(self) -> CategoryInput:
        return CategoryInput(self.name, self.description, self.default_opted_in, self.mandatory)
