"""Webhook endpoints of an app: create, change, rotate the secret, delete, redeliver.

Secrets are ``whsec_<base64 of 24 random bytes>`` (Standard Webhooks), stored encrypted
with the master key and shown only when created or rotated. After a rotation the previous
secret also signs for ``webhook_secret_grace_hours``, so receivers can switch without loss.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.crypto import SecretBox
from app.domain import change_feed, clock
from app.domain.errors import DomainError, ErrorCode, not_found
from app.domain.paging import check_page_size
from app.domain.webhook_urls import UrlPolicy
from app.store import outbox, redeliveries, unit_of_work, webhooks
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]
MAX_DESCRIPTION = 500


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signing_secrets(endpoint: Document, box: SecretBox, now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous during its grace."""
    found = [box.decrypt(endpoint["secret"])]
    expires = endpoint.get("previousSecretExpiresAt")
    if endpoint.get("previousSecret") and expires is not None and expires > now:
        found.append(box.decrypt(endpoint["previousSecret"]))
    return found


def _check_types(types: Sequence[str] | None) -> list[str] | None:
    return change_feed.check_types(types, ("input", "eventTypes"))


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"description is longer than {MAX_DESCRIPTION}", ("input", "description")
        )
    return description


@dataclass(slots=True)
class Created:
    endpoint: Document
    secret: str


async def create(
    store: Store,
    box: SecretBox,
    policy: UrlPolicy,
    app_id: str,
    url: str,
    event_types: Sequence[str] | None,
    description: str | None,
    max_endpoints: int,
) -> Created:
    types = _check_types(event_types)
    description = _check_description(description)
    await policy.check(url, ("input", "url"))
    if await webhooks.count_endpoints(store, app_id) >= max_endpoints:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"an app has at most {max_endpoints} webhook endpoints", ())
    now = clock.now()
    secret = new_secret()
    # Events committed from now on are delivered; earlier ones are in changeEvents.
    cursor = await outbox.number_handed_out(store, app_id)
    document: Document = {
        "_id": f"whe_{secrets.token_hex(12)}",
        "appId": app_id,
        "url": url,
        "eventTypes": types,
        "description": description,
        "enabled": True,
        "createdAt": now,
        "updatedAt": now,
        "secret": box.encrypt(secret),
        "previousSecret": None,
        "previousSecretExpiresAt": None,
        "cursor": cursor,
        "consecutiveFailures": 0,
    }
    await webhooks.insert_endpoint(store, document)
    return Created(document, secret)


async def get(store: Store, app_id: str, endpoint_id: str, field: Sequence[str] = ("id",)) -> Document:
    found = await webhooks.get_endpoint(store, app_id, endpoint_id[:100])
    if found is None:
        raise not_found("the webhook endpoint", field)
    return found


async def update(
    store: Store,
    policy: UrlPolicy,
    app_id: str,
    endpoint_id: str,
    changes: dict[str, Any],
) -> Document:
    """``changes``: any of url, eventTypes, description, enabled (absent keys stay)."""
    await get(store, app_id, endpoint_id)
    stored: Document = {"updatedAt": clock.now()}
    if "url" in changes:
        stored["url"] = await policy.check(changes["url"], ("input", "url"))
    if "eventTypes" in changes:
        stored["eventTypes"] = _check_types(changes["eventTypes"])
    if "description" in changes:
        stored["description"] = _check_description(changes["description"])
    if "enabled" in changes:
        stored["enabled"] = bool(changes["enabled"])
        if changes["enabled"]:
            stored["consecutiveFailures"] = 0
            stored["disabledReason"] = None
    updated = await webhooks.update_endpoint(store, app_id, endpoint_id, stored)
    if updated is None:
        raise not_found("the webhook endpoint", ("id",))
    return updated


async def rotate(store: Store, box: SecretBox, app_id: str, endpoint_id: str, grace: timedelta) -> Created:
    current = await get(store, app_id, endpoint_id)
    secret = new_secret()
    now = clock.now()
    updated = await webhooks.update_endpoint(
        store,
        app_id,
        endpoint_id,
        {
            "secret": box.encrypt(secret),
            "previousSecret": current["secret"],
            "previousSecretExpiresAt": now + grace,
            "updatedAt": now,
        },
    )
    if updated is None:
        raise not_found("the webhook endpoint", ("id",))
    return Created(updated, secret)


async def delete(store: Store, app_id: str, endpoint_id: str) -> str:
    """Delete the endpoint; its deliveries are purged afterwards (wake the dispatcher)."""

    async def work(unit: UnitOfWork) -> bool:
        return await webhooks.delete_endpoint(unit, app_id, endpoint_id[:100], clock.now())

    if not await unit_of_work.run(store, work):
        raise not_found("the webhook endpoint", ("id",))
    return endpoint_id


REDELIVERY_BATCH = redeliveries.REDELIVERY_BATCH


@dataclass(slots=True)
class Redelivery:
    count: int  # deliveries made pending again before the call answered
    running: Document | None  # the walk housekeeping goes on with, or None: every delivery is done


async def redeliver(store: Store, app_id: str, endpoint_id: str, since: datetime) -> Redelivery:
    """Deliver again every event (still retained) sent to the endpoint since ``since``: the
    first batch now, the rest in the background (``app/store/redeliveries.py``)."""
    await get(store, app_id, endpoint_id, ("endpointId",))
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # the same instant the store would read it as
    now = clock.now()
    walk = await redeliveries.schedule(store, app_id, endpoint_id, since, now)
    if walk is None:
        return Redelivery(0, None)
    batch = await redeliveries.run_batch(store, walk, now)
    return Redelivery(batch.queued, batch.rest)


async def running_redeliveries(store: Store, app_id: str, endpoint_ids: Sequence[str]) -> list[Document | None]:
    """Each endpoint's redelivery still running (None when none), in order: one read."""
    return await redeliveries.of_endpoints(store, app_id, endpoint_ids)


@dataclass(slots=True)
class DeliveryPage:
    deliveries: list[Document]
    more: bool


MAX_PAGE_SIZE = 100


def delivery_cursor(seq: int) -> str:
    return change_feed.encode_cursor(seq)


async def delivery_page(
    store: Store, endpoint_id: str, first: int, after: str | None, status: str | None
) -> DeliveryPage:
    check_page_size(first, MAX_PAGE_SIZE, minimum=1)
    position = 0 if after is None else change_feed.decode_cursor(after, ("after",))
    found = await webhooks.page(store, endpoint_id, position, first, status)
    return DeliveryPage(found[:first], len(found) > first)
