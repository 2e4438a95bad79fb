"""The authenticated caller of one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.actor import Actor
from app.domain.claims import Authority, Claims


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
    # User tokens: the signed `email` / `phone_number` claims, normalised (what the token vouches for).
    emails: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)

    @property
    def claims(self) -> Claims:
        """The identifiers this caller may assert (app/domain/claims.py)."""
        match self.scope:
            case Scope.APP:
                return Claims.trusted()
            case Scope.USER:
                return Claims(Authority.OWN, (self.external_user_id or "").strip() or None, self.emails, self.phones)
        return Claims.anonymous()

    @property
    def actor(self) -> Actor:
        subject = self.external_user_id or self.user_id
        return Actor(self.scope.value, self.key_id, subject)
