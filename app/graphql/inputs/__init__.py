"""GraphQL input types and their conversion to domain values."""

from __future__ import annotations

from typing import TypeGuard

import strawberry


def given[T](value: T | None) -> TypeGuard[T]:
    """Whether a @oneOf member (default UNSET) was sent with a value."""
    return value is not None and value is not strawberry.UNSET
