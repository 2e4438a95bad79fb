"""changeEvents: an app's change events in commit order, from a cursor a client stores."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domain.errors import DomainError, ErrorCode
from app.domain.events import EVENT_TYPES
from app.domain.paging import check_page_size
from app.store import outbox
from app.store.client import Store

MAX_PAGE_SIZE = 500
_CURSOR_PREFIX = "ChangeEventCursor:"


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: Sequence[str]) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor[:100] + "=" * (-len(cursor[:100]) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text.removeprefix(_CURSOR_PREFIX)
    if len(cursor) > 100 or not text.startswith(_CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 19:
        raise DomainError(ErrorCode.INVALID_INPUT, "not a change event cursor", field)
    return int(digits)


def check_types(types: Sequence[str] | None, field: Sequence[str]) -> list[str] | None:
    if types is None:
        return None
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or len(types) > len(EVENT_TYPES):
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown event types: {', '.join(unknown[:5])}", field)
    return list(types)


@dataclass(slots=True)
class FeedPage:
    entries: list[dict[str, object]]
    end_cursor: str
    more: bool


async def page(store: Store, app_id: str, after: str | None, first: int, types: Sequence[str] | None) -> FeedPage:
    check_page_size(first, MAX_PAGE_SIZE, minimum=1)
    position = 0 if after is None else decode_cursor(after, ("after",))
    wanted = check_types(types, ("eventTypes",))
    found = await outbox.read(store, app_id, position, first, datetime.now(UTC), wanted)
    return FeedPage(found.entries, encode_cursor(found.last_seq), found.more)


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)
