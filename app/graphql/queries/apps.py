"""apps: the apps of this gateway and their key ids, so a lost app id can be found (admin scope)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.relay import PageInfo

from app.domain import apps
from app.domain.errors import DomainError
from app.graphql.access import Info
from app.graphql.errors import user_errors
from app.graphql.pipeline import ADMIN, query
from app.graphql.types.apps import App, AppList

DEFAULT_PAGE_SIZE = 50


@strawberry.type
class AppQueries:
    @query(
        scopes=ADMIN,
        description=(
            "The apps, in id order, with their active key ids (admin scope; never secrets). "
            f"`first` is at most {apps.MAX_APPS_PAGE_SIZE}; more is refused with LIMIT_EXCEEDED. "
            "`after` is the `endCursor` of the previous page."
        ),
    )
    async def apps(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size.")] = DEFAULT_PAGE_SIZE,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The cursor of the last app already seen (endCursor of the previous page)."
            ),
        ] = None,
    ) -> AppList:
        context = info.context
        try:
            page = await apps.list_apps(context.store, first, after)
        except DomainError as error:
            empty = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None)
            return AppList(nodes=[], page_info=empty, user_errors=user_errors(error))
        nodes = [App.of(app, page.keys[app["_id"]]) for app in page.apps]
        page_info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=str(nodes[0].id) if nodes else None,
            end_cursor=str(nodes[-1].id) if nodes else after,
        )
        return AppList(nodes=nodes, page_info=page_info, user_errors=[])
