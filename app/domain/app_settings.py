"""Per-app settings stored on the app document (``settings``), with their defaults.

An app created before a setting existed has no value for it and gets the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Stored name of each setting under the app document's ``settings``.
EXTERNAL_USER_ID_AS_EMAIL = "externalUserIdAsEmail"
STRICT_ATTRIBUTES = "strictAttributes"


@dataclass(frozen=True, slots=True)
class AppSettings:
    """``external_user_id_as_email``: an externalUserId that is a valid email address is also
    added as an email identifier of its user (on by default). ``strict_attributes``: only
    defined custom attributes may be written (off by default; app/domain/definitions.py)."""

    external_user_id_as_email: bool = True
    strict_attributes: bool = False

    @classmethod
    def of(cls, app: dict[str, Any] | None) -> AppSettings:
        stored = ((app or {}).get("settings")) or {}
        as_email, strict = stored.get(EXTERNAL_USER_ID_AS_EMAIL), stored.get(STRICT_ATTRIBUTES)
        return cls(
            external_user_id_as_email=as_email if isinstance(as_email, bool) else True,
            strict_attributes=strict is True,
        )

    def stored(self) -> dict[str, Any]:
        """The ``settings`` fields as the app document stores them."""
        return {EXTERNAL_USER_ID_AS_EMAIL: self.external_user_id_as_email, STRICT_ATTRIBUTES: self.strict_attributes}


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What an admin asked to change; None leaves a setting as it is."""

    external_user_id_as_email: bool | None = None

    def stored(self) -> dict[str, Any]:
        """``$set`` fields for the app document."""
        changes: dict[str, Any] = {}
        if self.external_user_id_as_email is not None:
            changes[f"settings.{EXTERNAL_USER_ID_AS_EMAIL}"] = self.external_user_id_as_email
        return changes
