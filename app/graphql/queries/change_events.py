"""changeEvents: the resumable feed of an app's change events (app tokens)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.relay import PageInfo

from app.domain import change_feed
from app.domain.errors import DomainError
from app.graphql.access import Info
from app.graphql.errors import user_errors
from app.graphql.pipeline import APP, app_id_of, query
from app.graphql.types.change_events import ChangeEventConnection, ChangeEventEdge

DEFAULT_PAGE_SIZE = 100


@strawberry.type
class ChangeEventQueries:
    @query(
        scopes=APP,
        description=(
            "The app's change events in commit order (app tokens only). Store pageInfo.endCursor and "
            f"pass it as `after` to resume; `first` is at most {change_feed.MAX_PAGE_SIZE}. Events are "
            "kept for the retention period (PROFILE_GATEWAY_CHANGE_EVENT_RETENTION_DAYS)."
        ),
    )
    async def change_events(
        self,
        info: Info,
        after: Annotated[
            str | None,
            strawberry.argument(description="A cursor stored from an earlier page (endCursor): resume after it."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="How many events to return.")] = DEFAULT_PAGE_SIZE,
        event_types: Annotated[
            list[str] | None, strawberry.argument(description="Only events of these types (e.g. user.created).")
        ] = None,
    ) -> ChangeEventConnection:
        context = info.context
        app_id = app_id_of(info)
        try:
            found = await change_feed.page(
                context.store, app_id, after, DEFAULT_PAGE_SIZE if first is None else first, event_types
            )
        except DomainError as error:
            info_ = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=after)
            return ChangeEventConnection(edges=[], page_info=info_, user_errors=user_errors(error))
        edges = [ChangeEventEdge.of(entry) for entry in found.entries]
        page_info = PageInfo(
            has_next_page=found.more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=found.end_cursor,
        )
        return ChangeEventConnection(edges=edges, page_info=page_info, user_errors=[])
