"""UserConnection: a page of users with Relay cursors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from strawberry.relay import PageInfo

from app.graphql.errors import UserError
from app.graphql.types.user import User


@strawberry.type(description="A user and the cursor that points at it.")
class UserEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this user.")
    node: User = strawberry.field(description="The user.")


@strawberry.type(description="One page of users, oldest first, with opaque keyset cursors.")
class UserConnection:
    edges: list[UserEdge] = strawberry.field(description="The users of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more users follow, and the cursor to continue.")
    user_errors: list[UserError] = strawberry.field(
        description="Why the filter or the paging arguments were refused (the page is then empty)."
    )
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The users of this page (edges without cursors).")
    def nodes(self) -> list[User]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many users match the filter, on all pages (counted only when asked for).")
    async def total_count(self) -> int:
        return await self.counter()
