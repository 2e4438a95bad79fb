"""users(filter, first, after): lists and segments of an app's users."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.relay import PageInfo

from app.domain import listing
from app.domain.errors import DomainError, DomainErrors
from app.graphql.access import Info
from app.graphql.errors import user_errors
from app.graphql.inputs.filters import UserFilter
from app.graphql.pipeline import APP, app_id_of, query
from app.graphql.types.connections import UserConnection, UserEdge
from app.graphql.types.user import User

DEFAULT_PAGE_SIZE = 20


async def _no_count(limit: int) -> listing.Count:
    return listing.Count(0, exact=True)


def _refused(error: DomainError | DomainErrors) -> UserConnection:
    page_info = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None)
    return UserConnection(edges=[], page_info=page_info, user_errors=user_errors(error), counter=_no_count)


@strawberry.type
class ListingQueries:
    @query(
        scopes=APP,
        description=(
            "The app's users that match the filter, oldest first (app tokens only). "
            f"`first` is at most {listing.MAX_PAGE_SIZE}; more is refused with LIMIT_EXCEEDED."
        ),
    )
    async def users(
        self,
        info: Info,
        filter: Annotated[
            UserFilter | None,
            strawberry.argument(description="Conditions every returned user meets; all users when omitted."),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(description="Page size: 20 when omitted or null, at most the maximum named above."),
        ] = DEFAULT_PAGE_SIZE,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The cursor of the last user already seen (endCursor of the previous page)."
            ),
        ] = None,
    ) -> UserConnection:
        context = info.context
        first = DEFAULT_PAGE_SIZE if first is None else first  # the contract's `first: Int = 20`
        app_id = app_id_of(info)
        try:
            page = await listing.list_users(
                context.store,
                app_id,
                filter.to_domain() if filter is not None else None,
                first,
                after,
            )
        except (DomainError, DomainErrors) as error:
            return _refused(error)
        # Relations of these users that look a user up by id find it already loaded.
        context.loaders.user_by_id.prime_many({document["_id"]: document for document in page.users})
        edges = [
            UserEdge(cursor=listing.encode_cursor(document["_id"]), node=User.of(document)) for document in page.users
        ]

        async def count(limit: int) -> listing.Count:
            at_least = len(page.users) + (1 if page.matched_more else 0)
            return await listing.count_users(context.store, page.query, limit, at_least)

        page_info = PageInfo(
            has_next_page=page.has_next_page,
            # Forward paging only: earlier users exist whenever the client is past the first page.
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            # The last user's cursor, or the end of the scan window when the page ended early.
            end_cursor=listing.encode_cursor(page.end_id) if page.end_id is not None else after,
        )
        return UserConnection(edges=edges, page_info=page_info, user_errors=[], counter=count)
