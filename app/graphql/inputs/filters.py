"""UserFilter and AttributeCondition: which users a list returns."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain import segments
from app.domain.attributes import TypedValue
from app.domain.profile import ProfileType
from app.graphql.inputs.attributes import AttributeValue
from app.graphql.types.channels import ChannelType


@strawberry.input(description="A custom attribute's key (and a path into an OBJECT) plus exactly one comparison.")
class AttributeCondition:
    key: str = strawberry.field(description="The custom attribute's key.")
    eq: AttributeValue | None = strawberry.field(default=None, description="Equal to.")
    ne: AttributeValue | None = strawberry.field(
        default=None, description="Not equal to (also matches users without the attribute)."
    )
    gt: AttributeValue | None = strawberry.field(default=None, description="Greater than (same type only).")
    gte: AttributeValue | None = strawberry.field(default=None, description="Greater than or equal to.")
    lt: AttributeValue | None = strawberry.field(default=None, description="Less than (same type only).")
    lte: AttributeValue | None = strawberry.field(default=None, description="Less than or equal to.")
    in_: list[AttributeValue] | None = strawberry.field(
        default=None, name="in", description="Equal to one of these (at most 100)."
    )
    exists: bool | None = strawberry.field(default=None, description="Whether the attribute is set.")
    contains: AttributeValue | None = strawberry.field(
        default=None, description="A list (LIST_OF_STRINGS, LIST_OF_NUMBERS) holding this string or number."
    )
    path: list[str] | None = strawberry.field(
        default=None, description="Compare a value inside an OBJECT attribute: the keys leading to it."
    )

    def to_domain(self) -> segments.AttributeCondition:
        def typed(value: AttributeValue | None) -> TypedValue | None:
            return value.to_domain() if value is not None else None

        return segments.AttributeCondition(
            key=self.key,
            eq=typed(self.eq),
            ne=typed(self.ne),
            gt=typed(self.gt),
            gte=typed(self.gte),
            lt=typed(self.lt),
            lte=typed(self.lte),
            in_=[value.to_domain() for value in self.in_] if self.in_ is not None else None,
            exists=self.exists,
            contains=typed(self.contains),
            path=self.path,
        )


@strawberry.input(description="Which users to list; all given conditions must hold.")
class UserFilter:
    type: ProfileType | None = strawberry.field(default=None, description="LEAD or CUSTOMER.")
    tags_all: list[str] | None = strawberry.field(default=None, description="Users with every one of these tags.")
    tags_any: list[str] | None = strawberry.field(default=None, description="Users with at least one of these tags.")
    attributes: list[AttributeCondition] | None = strawberry.field(
        default=None, description="Conditions on custom attributes (at most 20)."
    )
    has_channel: ChannelType | None = strawberry.field(
        default=None,
        description=(
            "Users with at least one channel of this type (opted in or not): stored on the profile, or, "
            "for ANDROID_PUSH and IOS_PUSH, an enabled installation of the user with a push token. "
            "A stored push channel that `channels` hides (its installation has push off or belongs "
            "to someone else now) still matches."
        ),
    )
    created_after: datetime | None = strawberry.field(default=None, description="Created strictly after.")
    created_before: datetime | None = strawberry.field(default=None, description="Created strictly before.")

    def to_domain(self) -> segments.UserFilter:
        return segments.UserFilter(
            type=self.type,
            tags_all=self.tags_all,
            tags_any=self.tags_any,
            attributes=[item.to_domain() for item in self.attributes] if self.attributes is not None else None,
            has_channel=self.has_channel,
            created_after=self.created_after,
            created_before=self.created_before,
        )
