"""Who did something: recorded with every profile event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    scope: str  # admin | app | user | session | system
    key_id: str | None = None
    subject: str | None = None  # externalUserId for user tokens, user id for sessions

    def to_document(self) -> dict[str, Any]:
        return {"scope": self.scope, "keyId": self.key_id, "subject": self.subject}


SYSTEM = Actor("system")
