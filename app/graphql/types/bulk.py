"""The answer of a bulk upsert: totals and each failed record."""

from __future__ import annotations

import strawberry

from app.domain.bulk import BulkResult
from app.domain.bulk import BulkStatus as DomainBulkStatus
from app.domain.errors import ErrorCode
from app.graphql.enums import described_enum
from app.graphql.errors import UserError, UserErrorCode

BulkStatus = described_enum(
    DomainBulkStatus,
    name="BulkStatus",
    description="SUCCESS: every record stored; FAIL: none; PARTIAL: some.",
    values={
        DomainBulkStatus.SUCCESS: "Every record was stored.",
        DomainBulkStatus.PARTIAL: "Some records were stored; the others are listed in failures.",
        DomainBulkStatus.FAIL: "No record was stored.",
    },
)
assert UserErrorCode is ErrorCode  # strawberry.enum registers the domain enums themselves


@strawberry.type(description="One record that was not stored, and why.")
class BulkFailure:
    index: int = strawberry.field(description="Position of the record in the input (from 0).")
    code: ErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: list[str] | None = strawberry.field(description='Path into the input, e.g. ["records","3","emails","0"].')


@strawberry.type(description="Per-record results of bulkUpsertUsers; one bad record never blocks the others.")
class BulkUpsertPayload:
    status: DomainBulkStatus = strawberry.field(description="SUCCESS, PARTIAL or FAIL.")
    total: int = strawberry.field(description="Records received.")
    succeeded: int = strawberry.field(description="Records stored (or already up to date).")
    failed: int = strawberry.field(description="Records refused.")
    failures: list[BulkFailure] = strawberry.field(description="The refused records, in input order.")
    user_errors: list[UserError] = strawberry.field(
        description="Errors about the call as a whole (e.g. LIMIT_EXCEEDED); then no record is stored."
    )

    @classmethod
    def of(cls, result: BulkResult) -> BulkUpsertPayload:
        return cls(
            status=result.status,
            total=result.total,
            succeeded=result.succeeded,
            failed=result.failed,
            failures=[
                BulkFailure(index=item.index, code=item.code, message=item.message, field=list(item.field) or None)
                for item in result.failures
            ],
            user_errors=[],
        )
