"""The one check of a page size (`first`) for every paged read: users, a user's history,
webhook deliveries, change events and apps.

Refused, not clamped: a client that asked for 500 and got 100 might take it for all.
"""

from __future__ import annotations

from typing import Literal

from app.domain.errors import DomainError, ErrorCode

Field = tuple[str, ...]

# How the refusal reads: "range" names both bounds (LIMIT_EXCEEDED); "after" (users and
# their history) tells a negative size apart (INVALID_INPUT) and points to paging on.
Wording = Literal["range", "after"]


def check_page_size(
    first: int, maximum: int, *, minimum: int = 0, field: Field = ("first",), wording: Wording = "range"
) -> int:
    """``first`` when ``minimum <= first <= maximum``, else a DomainError on ``field``."""
    if minimum <= first <= maximum:
        return first
    if wording == "range":
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"first must be between {minimum} and {maximum}", field)
    if first < minimum:
        raise DomainError(ErrorCode.INVALID_INPUT, "`first` cannot be negative", field)
    raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"`first` is at most {maximum}; page with `after`", field)
