"""Change events: what leaves the gateway when a committed change touches a profile.

Pure: a recorded history event (kind, details, user) plus the user's version and external
id become one or more change events. They name what changed (field names, attribute keys,
channel types), never values, so a receiver never holds personal data it did not ask for.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
USER_MERGED = "user.merged"
USER_PERSONALIZED = "user.personalized"
USER_DEPERSONALIZED = "user.depersonalized"
INSTALLATION_SAVED = "installation.saved"
INSTALLATION_MOVED = "installation.moved"
INSTALLATION_DELETED = "installation.deleted"
CHANNEL_ADDED = "channel.added"
CHANNEL_REMOVED = "channel.removed"

EVENT_TYPES = (
    USER_CREATED,
    USER_UPDATED,
    USER_DELETED,
    USER_MERGED,
    USER_PERSONALIZED,
    USER_DEPERSONALIZED,
    INSTALLATION_SAVED,
    INSTALLATION_MOVED,
    INSTALLATION_DELETED,
    CHANNEL_ADDED,
    CHANNEL_REMOVED,
)

# Why a user.deleted event's user was erased (its ``deletionReason``).
DELETED_ON_REQUEST = "request"  # deleteUser
DELETED_BY_RETENTION = "retention"  # an idle anonymous lead (app/domain/lead_retention.py)

# History kinds (app/domain/history.EventKind values; by value, so that history can import
# this module) and the change event type each becomes.
_TYPE_OF_KIND = {
    "CREATED": USER_CREATED,
    "UPDATED": USER_UPDATED,
    "PERSONALIZED": USER_PERSONALIZED,
    "DEPERSONALIZED": USER_DEPERSONALIZED,
    "INSTALLATION_MOVED": INSTALLATION_MOVED,
    "MERGED": USER_MERGED,
    "CHANNEL_ADDED": CHANNEL_ADDED,
    "CHANNEL_REMOVED": CHANNEL_REMOVED,
    "DELETED": USER_DELETED,
}


def global_user_id(user_id: str) -> str:
    """The user's id as the API shows it (the same encoding as app/graphql/ids.encode_id,
    kept here so the domain does not depend on the GraphQL layer)."""
    return base64.urlsafe_b64encode(f"User:{user_id}".encode()).decode().rstrip("=")


def changed_names(kind: str, details: Mapping[str, Any]) -> list[str]:
    """Field names and attribute keys an event touched (attribute keys as ``attrs.<key>``)."""
    names: list[str] = list(details.get("fields", []))
    names += [f"attrs.{key}" for key in details.get("customAttributes", [])]
    names += [f"preferences.{name}" for name in details.get("preferences", [])]
    if details.get("categories"):
        names.append("preferences.categories")
    if "tagsAdded" in details or "tagsRemoved" in details:
        names.append("tags")
    if "channels" in details or kind in ("CHANNEL_ADDED", "CHANNEL_REMOVED"):
        names.append("channels")
    if kind in ("PERSONALIZED", "DEPERSONALIZED", "INSTALLATION_MOVED"):
        names.append("installations")
    return sorted(set(names))


def change_events(
    *,
    app_id: str,
    user_id: str,
    kind: str,
    details: Mapping[str, Any],
    occurred_at: datetime,
    version: int | None,
    external_user_id: str | None,
) -> list[dict[str, Any]]:
    """The change events of one recorded history event, without ids (the outbox numbers
    them at commit). An event on an installation's attributes is ``installation.saved``; a
    device registered together with its new user adds an ``installation.saved``."""

    def event(event_type: str, changed: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "type": event_type,
            "occurredAt": occurred_at,
            "appId": app_id,
            "userId": global_user_id(user_id),
            "externalUserId": external_user_id,
            "version": version,
            "changed": changed,
            **extra,
        }

    changed = changed_names(kind, details)
    if kind == "UPDATED" and "installation" in details:
        return [event(INSTALLATION_SAVED, changed)]
    if kind == "MERGED":
        return [event(USER_MERGED, changed, sourceUserId=global_user_id(str(details["sourceUserId"])))]
    if kind == "DELETED":
        return [event(USER_DELETED, changed, deletionReason=details.get("reason", DELETED_ON_REQUEST))]
    events = [event(_TYPE_OF_KIND[kind], changed)]
    if kind == "CREATED" and "installationId" in details:
        events.append(event(INSTALLATION_SAVED, ["installations"]))
    return events


def public_document(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The event as receivers see it (webhook body, change feed): the stored outbox entry
    without its store-only fields."""
    keys = ("id", "type", "occurredAt", "appId", "userId", "externalUserId", "version", "changed")
    body = {key: stored[key] for key in keys}
    for optional in ("sourceUserId", "deletionReason"):
        if optional in stored:
            body[optional] = stored[optional]
    return body
