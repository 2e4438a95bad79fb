"""Every paged read refuses a page size out of its bounds the same way it always has: the code,
message and field of each refusal are pinned here, and nothing is read for a refused page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.domain import apps, change_feed, listing, webhooks
from app.domain.errors import DomainError, DomainErrors
from app.domain.paging import check_page_size
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant
from tests.identity_ops import UPSERT

Read = Callable[[Store, int], Awaitable[Any]]


def _users(store: Store, first: int) -> Awaitable[Any]:
    return listing.list_users(store, "app_paging", None, first, None)


def _deliveries(store: Store, first: int) -> Awaitable[Any]:
    return webhooks.delivery_page(store, "whe_paging", first, None, None)


def _change_events(store: Store, first: int) -> Awaitable[Any]:
    return change_feed.page(store, "app_paging", None, first, None)


def _apps(store: Store, first: int) -> Awaitable[Any]:
    return apps.list_apps(store, first)


CASES = [
    (_users, -1, "INVALID_INPUT", "`first` cannot be negative"),
    (_users, 101, "LIMIT_EXCEEDED", "`first` is at most 100; page with `after`"),
    (_deliveries, 0, "LIMIT_EXCEEDED", "first must be between 1 and 100"),
    (_deliveries, 101, "LIMIT_EXCEEDED", "first must be between 1 and 100"),
    (_change_events, 0, "LIMIT_EXCEEDED", "first must be between 1 and 500"),
    (_change_events, 501, "LIMIT_EXCEEDED", "first must be between 1 and 500"),
    (_apps, -1, "LIMIT_EXCEEDED", "first must be between 0 and 100"),
    (_apps, 101, "LIMIT_EXCEEDED", "first must be between 0 and 100"),
]


@pytest.mark.parametrize(("read", "first", "code", "message"), CASES)
async def test_a_page_size_out_of_bounds_is_refused_before_any_read(
    store: Store, command_log: CommandLog, read: Read, first: int, code: str, message: str
) -> None:
    with command_log.recording() as commands, pytest.raises((DomainError, DomainErrors)) as refused:
        await read(store, first)
    error = refused.value.errors[0] if isinstance(refused.value, DomainErrors) else refused.value
    assert isinstance(error, DomainError)
    assert (error.code.value, error.message, error.field) == (code, message, ("first",))
    assert sum(commands.values()) == 0


@pytest.mark.parametrize(("first", "maximum", "minimum"), [(0, 100, 0), (100, 100, 0), (1, 500, 1), (500, 500, 1)])
def test_the_bounds_themselves_are_allowed(first: int, maximum: int, minimum: int) -> None:
    assert check_page_size(first, maximum, minimum=minimum) == first
    assert check_page_size(first, maximum, minimum=minimum, wording="after") == first


def test_the_field_names_the_argument_given() -> None:
    with pytest.raises(DomainError) as refused:
        check_page_size(7, 5, field=("history", "first"), wording="after")
    assert refused.value.field == ("history", "first")


HISTORY = """
query($first: Int!) {
  user(by: {externalUserId: "ada"}) { history(first: $first) { edges { cursor } userErrors { code message field } } }
}
"""


@pytest.mark.parametrize(
    ("first", "code", "message"),
    [
        (-1, "INVALID_INPUT", "`first` cannot be negative"),
        (101, "LIMIT_EXCEEDED", "`first` is at most 100; page with `after`"),
    ],
)
async def test_a_history_page_out_of_bounds_is_a_user_error(
    gateway: Gateway, tenant: Tenant, first: int, code: str, message: str
) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "ada"}}, token=tenant.app_token)
    history = (await gateway.data(HISTORY, {"first": first}, token=tenant.app_token))["user"]["history"]
    assert history["edges"] == []
    assert history["userErrors"] == [{"code": code, "message": message, "field": ["first"]}]
