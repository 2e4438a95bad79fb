"""GraphQL input types and their conversion to domain values."""

from __future__ import annotations

from typing import Any, TypeGuard

import strawberry

from app.domain.patch import UNSET


def given[T](value: T | None) -> TypeGuard[T]:
    """Whether a @oneOf member (default UNSET) was sent with a value."""
    return value is not None and value is not strawberry.UNSET


def maybe(value: Any) -> Any:
    """strawberry.Maybe (None = omitted, Some(x) = given, x may be null) to the domain's UNSET/None."""
    return UNSET if value is None else value.value
