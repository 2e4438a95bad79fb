"""The authenticated caller of one request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.actor import Actor


class Scope(StrEnum):
    ADMIN = "admin"
    APP = "app"
    USER = "user"
    SESSION = "session"
    ANONYMOUS = "anonymous"  # only an X-App-Id: may register an installation, nothing else


@dataclass(frozen=True, slots=True)
class Principal:
    scope: Scope
    app_id: str | None = None
    key_id: str | None = None
    external_user_id: str | None = None  # user tokens: the `sub` claim
    user_id: str | None = None  # session tokens: the anonymous user they belong to

    @property
    def actor(self) -> Actor:
        subject = self.external_user_id or self.user_id
        return Actor(self.scope.value, self.key_id, subject)
