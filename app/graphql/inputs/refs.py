"""UserRef: how any operation names a user."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain.users import UserRef as DomainUserRef
from app.graphql.ids import decode_id
from app.graphql.inputs import given


@strawberry.input(one_of=True, description="Exactly one way of naming a user.")
class UserRef:
    id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="The user's global id.")
    external_user_id: str | None = strawberry.field(default=strawberry.UNSET, description="The business's own id.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="One of the user's emails (any case).")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="One of the user's phones (E.164).")
    push_registration_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="The user an installation belongs to."
    )

    def to_domain(self, field: tuple[str, ...] = ("by",)) -> DomainUserRef:
        if given(self.id):
            return DomainUserRef("id", decode_id(self.id, "User", (*field, "id")))
        if given(self.external_user_id):
            return DomainUserRef("externalUserId", self.external_user_id)
        if given(self.email):
            return DomainUserRef("email", self.email)
        if given(self.phone):
            return DomainUserRef("phone", self.phone)
        assert given(self.push_registration_id)  # @oneOf guarantees one member
        return DomainUserRef("pushRegistrationId", self.push_registration_id)


# The ``by`` argument of every operation on one user, with its one description.
UserRefArgument = Annotated[
    UserRef, strawberry.argument(description="Which user: exactly one of id, externalUserId, email or phone.")
]
