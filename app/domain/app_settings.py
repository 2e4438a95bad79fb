"""Per-app settings stored on the app document (``settings``), with their defaults.

An app created before a setting existed has no value for it and gets the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.errors import DomainError, ErrorCode
from app.domain.patch import UNSET, Unset

# Stored name of each setting under the app document's ``settings``.
EXTERNAL_USER_ID_AS_EMAIL = "externalUserIdAsEmail"
STRICT_ATTRIBUTES = "strictAttributes"
ANONYMOUS_LEAD_RETENTION_DAYS = "anonymousLeadRetentionDays"
MAX_RETENTION_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class AppSettings:
    """``external_user_id_as_email``: an externalUserId that is a valid email address is also
    added as an email identifier of its user (on by default). ``strict_attributes``: only
    defined custom attributes may be written (off by default; app/domain/definitions.py).
    ``anonymous_lead_retention_days``: this app's retention of idle anonymous leads
    (app/domain/lead_retention.py; 0 keeps them), or None for the gateway's setting."""

    external_user_id_as_email: bool = True
    strict_attributes: bool = False
    anonymous_lead_retention_days: int | None = None

    @classmethod
    def of(cls, app: dict[str, Any] | None) -> AppSettings:
        stored = ((app or {}).get("settings")) or {}
        as_email, strict = stored.get(EXTERNAL_USER_ID_AS_EMAIL), stored.get(STRICT_ATTRIBUTES)
        days = stored.get(ANONYMOUS_LEAD_RETENTION_DAYS)
        return cls(
            external_user_id_as_email=as_email if isinstance(as_email, bool) else True,
            strict_attributes=strict is True,
            anonymous_lead_retention_days=days if type(days) is int and 0 <= days <= MAX_RETENTION_DAYS else None,
        )

    def stored(self) -> dict[str, Any]:
        """The ``settings`` fields as the app document stores them."""
        fields: dict[str, Any] = {
            EXTERNAL_USER_ID_AS_EMAIL: self.external_user_id_as_email,
            STRICT_ATTRIBUTES: self.strict_attributes,
        }
        if self.anonymous_lead_retention_days is not None:
            fields[ANONYMOUS_LEAD_RETENTION_DAYS] = self.anonymous_lead_retention_days
        return fields

    def lead_retention_days(self, gateway_days: int) -> int:
        """The retention of idle anonymous leads in effect for this app (0: kept)."""
        return gateway_days if self.anonymous_lead_retention_days is None else self.anonymous_lead_retention_days


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What an admin asked to change; None leaves a setting as it is, except the lead
    retention, which UNSET leaves and None returns to the gateway's setting."""

    external_user_id_as_email: bool | None = None
    anonymous_lead_retention_days: int | Unset | None = UNSET

    def stored(self) -> dict[str, Any]:
        """``$set`` fields for the app document (a retention back to the gateway's: ``$unset``)."""
        changes: dict[str, Any] = {}
        if self.external_user_id_as_email is not None:
            changes[f"settings.{EXTERNAL_USER_ID_AS_EMAIL}"] = self.external_user_id_as_email
        if self.anonymous_lead_retention_days is not UNSET and self.anonymous_lead_retention_days is not None:
            changes[f"settings.{ANONYMOUS_LEAD_RETENTION_DAYS}"] = self.anonymous_lead_retention_days
        return changes

    def removed(self) -> list[str]:
        """Settings fields to remove: back to the gateway's setting."""
        return [f"settings.{ANONYMOUS_LEAD_RETENTION_DAYS}"] if self.anonymous_lead_retention_days is None else []


def check_retention_days(days: int | None, path: tuple[str, ...]) -> None:
    """A retention in days is 0 (keep) to ``MAX_RETENTION_DAYS``."""
    if days is not None and not 0 <= days <= MAX_RETENTION_DAYS:
        raise DomainError(ErrorCode.INVALID_INPUT, f"a retention is 0 (keep) to {MAX_RETENTION_DAYS} days", path)
