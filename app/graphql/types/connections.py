"""UserConnection: a page of users with Relay cursors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry.relay import PageInfo

from app.domain.errors import DomainError
from app.domain.listing import (
    COUNT_TIME_LIMIT_MS,
    DEFAULT_COUNT_LIMIT,
    EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS,
    MAX_COUNT_LIMIT,
    SCAN_WINDOW,
    Count,
    check_count_limit,
)
from app.graphql.errors import ClientError, UserError
from app.graphql.types.user import User


@strawberry.type(description="A user and the cursor that points at it.")
class UserEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this user.")
    node: User = strawberry.field(description="The user.")


@strawberry.type(description="One page of users, oldest first, with opaque keyset cursors.")
class UserConnection:
    edges: list[UserEdge] = strawberry.field(description="The users of this page with their cursors.")
    page_info: PageInfo = strawberry.field(
        description=(
            "Whether more users follow, and the cursor to continue. Page on while `hasNextPage` is true: a page "
            f"whose filter no index narrows reads at most {SCAN_WINDOW} users, so it can hold fewer users than "
            "`first`, or none, and still have a next page (every filter on the embedded store; on MongoDB, "
            "`ne` and `exists: false`)."
        )
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the filter or the paging arguments were refused (the page is then empty)."
    )
    counter: strawberry.Private[Callable[[int], Awaitable[Count]]]
    counts: strawberry.Private[dict[int, asyncio.Task[Count]]] = dataclasses.field(default_factory=dict)

    @strawberry.field(description="The users of this page (edges without cursors).")
    def nodes(self) -> list[User]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description=(
            "How many users match the filter, on all pages (counted only when asked for), counting at most "
            f"`limit` (1 to {MAX_COUNT_LIMIT}, default {DEFAULT_COUNT_LIMIT}): when more match, it answers "
            f"`limit`. A count that takes longer than {COUNT_TIME_LIMIT_MS} ms "
            f"({EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS} ms with attribute conditions on the embedded store) "
            "answers the users this page proves "
            "exist. `totalCountIsExact` (with the same `limit`) tells whether the number is exact."
        )
    )
    async def total_count(
        self,
        limit: Annotated[
            int, strawberry.argument(description="Count at most this many (1 to 100,000); more answers the limit.")
        ] = DEFAULT_COUNT_LIMIT,
    ) -> int:
        return (await self._count(limit)).value

    @strawberry.field(
        description="Whether `totalCount` (with the same `limit`) is the exact number of matching users, "
        "false when it was capped at `limit` or stopped by the time limit."
    )
    async def total_count_is_exact(
        self,
        limit: Annotated[
            int, strawberry.argument(description="The same limit as given to totalCount.")
        ] = DEFAULT_COUNT_LIMIT,
    ) -> bool:
        return (await self._count(limit)).exact

    async def _count(self, limit: int) -> Count:
        try:
            check_count_limit(limit)
        except DomainError as error:
            raise ClientError(error.message, error.code.value) from None
        # Both fields, in any order or at once, share one count per limit.
        if limit not in self.counts:
            self.counts[limit] = asyncio.ensure_future(self.counter(limit))
        return await self.counts[limit]
