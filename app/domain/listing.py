"""Pages of users: keyset pagination with opaque, stable cursors.

Users are listed in ``_id`` order (ObjectId text, so creation order). A cursor is the
``_id`` of the last user a client saw; the next page is ``_id > cursor``, which an index
serves directly, costs the same on page 1 and page 1,000 (no skip), and never repeats or
drops a user when others are created or deleted between pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from app.domain.errors import DomainError, DomainErrors, ErrorCode, ErrorCollector
from app.domain.paging import check_page_size
from app.domain.segments import UserFilter, compile_filter, matches_missing_keys, names_attributes
from app.store import users as users_store
from app.store.client import Store

Document = dict[str, Any]

MAX_PAGE_SIZE = 100
# totalCount counts at most this many users by default (`totalCount(limit:)` up to the maximum)
# and gives up after the time limit, so a count never costs more than a bounded scan.
DEFAULT_COUNT_LIMIT = 10_000
MAX_COUNT_LIMIT = 100_000
COUNT_TIME_LIMIT_MS = 2_000
# The embedded store counts a filter with attribute conditions by matching users one by one in
# Python (see ATTRIBUTE_SCAN_WINDOW), about 0.1 s per 1,000 users of the collection, so such a
# count gets less time: exact up to a few thousand users, "at least" beyond.
EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS = 500
CURSOR_PREFIX = "users:"
# A filter no index narrows makes a page whose filter matches few users read every user of
# the app after the cursor: 136 ms at 50,000 users on the embedded store, growing with the
# app. Such a page reads at most this many users (ids in order, merge tombstones included)
# and, when they run out before the page fills, ends early: fewer users than `first`,
# possibly none, with hasNextPage and a cursor at the last user read. On the embedded store
# that is every filtered page (list fields are matched per document, scalar ones through
# json_extract); on MongoDB, whose indexes serve the other conditions (app/store/indexes.py),
# only a filter with `ne` or `exists: false`.
SCAN_WINDOW = 5_000
# The embedded store matches attribute conditions in Python whenever the attribute holds
# numbers anywhere in the collection (Decimal128 has no SQL form there): a page with one
# decoded every user of the store (1.0 s at 20,000 users, with or without a window). There
# such a page selects its window first and matches the attributes on that window only, which
# costs about 60 ms per 1,000 users; so its window is smaller.
ATTRIBUTE_SCAN_WINDOW = 1_000


def encode_cursor(user_id: str) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{user_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: tuple[str, ...] = ("after",)) -> str:
    invalid = DomainError(ErrorCode.INVALID_INPUT, "not a cursor of this list", field)
    if len(cursor) > 200:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if not text.startswith(CURSOR_PREFIX) or len(text) == len(CURSOR_PREFIX):
        raise invalid
    return text[len(CURSOR_PREFIX) :]


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[Document]
    has_next_page: bool
    query: Document  # what totalCount counts (all pages)
    end_id: str | None  # where the next page starts: the last user's id, or the end of the scan window
    matched_more: bool  # a matching user after this page was read (what totalCount may count on)


async def list_users(
    store: Store,
    app_id: str,
    given: UserFilter | None,
    first: int,
    after: str | None,
    scan_window: int | None = None,
) -> UserPage:
    """One page in one round trip (one more user is read to know whether a next page exists);
    a page whose filter no index narrows first finds the end of its scan window (a second
    round trip, bounded: see SCAN_WINDOW, which ``scan_window`` replaces)."""
    errors = ErrorCollector()
    query: Document = {}
    last_seen: str | None = None
    try:
        check_page_size(first, MAX_PAGE_SIZE, wording="after")
    except DomainError as error:
        errors.add(error)
    try:
        query = compile_filter(app_id, given)
    except DomainErrors as many:
        errors.errors.extend(many.errors)
    try:
        last_seen = decode_cursor(after) if after is not None else None
    except DomainError as error:
        errors.add(error)
    errors.raise_if_any()  # all input errors together
    window = None
    in_python = _matched_in_python(store, query)
    if _unindexed(store, query):
        size = scan_window or (ATTRIBUTE_SCAN_WINDOW if in_python else SCAN_WINDOW)
        window = await users_store.window_end(store, app_id, last_seen, size)
    until = window.end_id if window else None
    documents = await users_store.page(store, query, last_seen, first, until, match_in_window=in_python)
    shown = documents[:first]
    last_shown = shown[-1]["_id"] if shown else last_seen
    if len(documents) > first:
        return UserPage(shown, True, query, last_shown, matched_more=True)
    if window is not None and window.more_follow:  # the window ended before the page filled
        return UserPage(shown, True, query, window.end_id, matched_more=False)
    return UserPage(shown, False, query, last_shown, matched_more=False)


def _unindexed(store: Store, query: Document) -> bool:
    """Whether no index narrows this filter on this store (see SCAN_WINDOW)."""
    if "$and" not in query:  # no filter: the users in `_id` order are the page
        return False
    return store.embedded_workarounds or matches_missing_keys(query)


def _matched_in_python(store: Store, query: Document) -> bool:
    """Whether this store matches the filter user by user in Python (see ATTRIBUTE_SCAN_WINDOW)."""
    return store.embedded_workarounds and names_attributes(query)


@dataclass(frozen=True, slots=True)
class Count:
    """How many users match: ``value`` is exact when ``exact``, else a lower bound."""

    value: int
    exact: bool


def check_count_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_COUNT_LIMIT:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"limit must be between 1 and {MAX_COUNT_LIMIT}", ("totalCount", "limit")
        )
    return limit


async def count_users(store: Store, query: Document, limit: int, at_least: int) -> Count:
    """Count the users ``query`` matches, up to ``limit``, within COUNT_TIME_LIMIT_MS (less for
    attribute conditions on the embedded store: EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS).

    The count stops at ``limit + 1`` matches, so its cost is bounded by the limit, not by
    the size of the app. Over the limit it answers ``limit`` (not exact); out of time,
    ``at_least`` (what the page already proves: its users, plus one when more follow).
    """
    in_python = _matched_in_python(store, query)
    time_limit_ms = EMBEDDED_ATTRIBUTE_COUNT_TIME_LIMIT_MS if in_python else COUNT_TIME_LIMIT_MS
    matched = await users_store.count(store, query, limit=limit + 1, time_limit_ms=time_limit_ms)
    if matched is None:  # out of time
        return Count(at_least, exact=False)
    return Count(min(matched, limit), exact=matched <= limit)
