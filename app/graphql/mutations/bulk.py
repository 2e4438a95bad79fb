"""bulkUpsertUsers: many records in one call, answered per record."""

from __future__ import annotations

import strawberry

from app.auth import scopes
from app.domain import bulk
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.inputs.users import UpsertUserInput
from app.graphql.types.bulk import BulkStatus, BulkUpsertPayload


@strawberry.type
class BulkMutations:
    @strawberry.mutation(
        description=f"Create or update up to {bulk.MAX_RECORDS} users (app scope). Each record is validated "
        "alone and written in one bulk write; failures are listed by index."
    )
    async def bulk_upsert_users(self, info: Info, records: list[UpsertUserInput]) -> BulkUpsertPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        patches = [record.to_domain() for record in records]
        result, errors = await collect_user_errors(
            lambda: bulk.bulk_upsert(context.store, app_id, context.principal.actor, patches, box=context.box)
        )
        if result is None:
            return BulkUpsertPayload(
                status=BulkStatus.FAIL,
                total=len(records),
                succeeded=0,
                failed=len(records),
                failures=[],
                user_errors=errors,
            )
        return BulkUpsertPayload.of(result)
