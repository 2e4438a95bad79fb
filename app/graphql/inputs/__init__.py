"""GraphQL input types and their conversion to domain values."""

from __future__ import annotations

from typing import Any

import strawberry


def given(value: Any) -> bool:
    """Whether a @oneOf member (default UNSET) was sent with a value."""
    return value is not None and value is not strawberry.UNSET
