"""Scalars whose parsing differs from Strawberry's defaults."""

from __future__ import annotations

from datetime import datetime

from strawberry.types.scalar import ScalarDefinition

from app.domain.identifiers import parse_moment


def _parse_date_time(value: object) -> datetime:
    try:
        return parse_moment(value)
    except (ValueError, OverflowError):
        raise ValueError("DateTime takes RFC 3339 text or epoch milliseconds") from None


# The same name and output as Strawberry's DateTime; input also takes epoch milliseconds.
DATE_TIME = ScalarDefinition(
    name="DateTime",
    description="Date with time: RFC 3339 (isoformat) out; RFC 3339 or epoch milliseconds in",
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=_parse_date_time,
    parse_literal=None,
    origin=datetime,
)
SCALAR_OVERRIDES = {datetime: DATE_TIME}
