"""bulkUpsertUsers: many records in one call, answered per record."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from app.domain import bulk
from app.graphql.access import Info
from app.graphql.errors import UserError
from app.graphql.inputs.users import UpsertUserInput
from app.graphql.mutations.codes import INPUT_CODES
from app.graphql.pipeline import APP, app_id_of, mutation, vouched_patch
from app.graphql.types.bulk import BulkStatus, BulkUpsertPayload


def _refused(errors: list[UserError], arguments: dict[str, Any]) -> BulkUpsertPayload:
    """The call as a whole was refused: no record is stored."""
    total = len(arguments["records"])
    return BulkUpsertPayload(
        status=BulkStatus.FAIL, total=total, succeeded=0, failed=total, failures=[], user_errors=errors
    )


@strawberry.type
class BulkMutations:
    @mutation(
        scopes=APP,
        codes=INPUT_CODES,
        description=f"Create or update up to {bulk.MAX_RECORDS} users (app scope). Each record is validated "
        "alone and written in one bulk write; failures are listed by index.",
        failed=_refused,
    )
    async def bulk_upsert_users(
        self,
        info: Info,
        records: Annotated[
            list[UpsertUserInput],
            strawberry.argument(description="The users to create or update, each like upsertUser's input."),
        ],
    ) -> BulkUpsertPayload:
        context = info.context
        patches = [vouched_patch(info, record.to_domain(), ("records", index)) for index, record in enumerate(records)]
        result = await bulk.bulk_upsert(
            context.store,
            app_id_of(info),
            context.principal.actor,
            patches,
            box=context.box,
            claims=context.principal.claims,
        )
        return BulkUpsertPayload.of(result)
