"""Time as the store keeps it: UTC, millisecond precision (BSON dates have no microseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def stored_precision(moment: datetime) -> datetime:
    """``moment`` in UTC, cut to milliseconds, so what a write returns equals what a read returns."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def now() -> datetime:
    return stored_precision(datetime.now(UTC))
