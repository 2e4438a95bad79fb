"""Turn a request's credential headers into a Principal, or refuse with InvalidToken (HTTP 401)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.auth.principal import Principal, Scope
from app.auth.tokens import InvalidToken, unverified_header, verify
from app.auth.verified_tokens import Verified, VerifiedTokens, still_valid
from app.config import Settings
from app.crypto import SecretBox
from app.domain import apps, sessions
from app.domain.claims import Claims
from app.store.client import Store

MAX_HEADER_LENGTH = 8_192
VERIFIED = VerifiedTokens()  # per process (app/auth/verified_tokens.py)


def hash_session_token(token: str) -> str:
    """Session tokens are stored only as this hash (they are high-entropy, so no salt is needed)."""
    return sessions.hash_token(token)


async def authenticate(headers: Mapping[str, str], settings: Settings, store: Store, box: SecretBox) -> Principal:
    authorization = headers.get("authorization")
    if authorization is not None:
        return await _bearer(authorization, settings, store, box)
    session_token = headers.get("x-session-token")
    if session_token is not None:
        return await _session(session_token, store)
    app_id = headers.get("x-app-id")
    if app_id is not None and 0 < len(app_id) <= 64:
        if not await apps.app_exists(store, app_id):
            raise InvalidToken("unknown app")
        return Principal(Scope.ANONYMOUS, app_id=app_id)
    raise InvalidToken("credentials required: Authorization: Bearer <token>")


async def _bearer(authorization: str, settings: Settings, store: Store, box: SecretBox) -> Principal:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_HEADER_LENGTH:
        raise InvalidToken("expected Authorization: Bearer <token>")
    leeway = settings.jwt_leeway_seconds
    seen = VERIFIED.get(token, leeway)
    key_id = seen.key_id if seen is not None else unverified_header(token).get("kid")
    if key_id is None:
        # Only the admin secret signs tokens without a key id.
        assert settings.admin_secret is not None
        claims = _verified(token, None, settings.admin_secret.get_secret_value(), seen, settings)
        if claims.get("scope") != Scope.ADMIN:
            raise InvalidToken("a token without a key id must be an admin token")
        return Principal(Scope.ADMIN)
    if not isinstance(key_id, str) or len(key_id) > 64:
        raise InvalidToken("malformed key id")
    key = await apps.active_key_secret(store, box, key_id)
    if key is None:
        raise InvalidToken("unknown or revoked key")
    app_id, secret = key
    claims = _verified(token, key_id, secret, seen, settings)
    scope = claims.get("scope")
    if scope == Scope.APP:
        return Principal(Scope.APP, app_id=app_id, key_id=key_id)
    if scope == Scope.USER:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise InvalidToken("a user token needs the externalUserId in `sub`")
        vouched = Claims.of_user_token(subject, claims)
        return Principal(
            Scope.USER,
            app_id=app_id,
            key_id=key_id,
            external_user_id=subject,
            emails=vouched.emails,
            phones=vouched.phones,
        )
    raise InvalidToken("an app key signs tokens of scope 'app' or 'user'")


def _verified(token: str, key_id: str | None, secret: str, seen: Verified | None, settings: Settings) -> dict[str, Any]:
    """The token's claims: as verified before with this same secret, or verified now."""
    rules = (settings.jwt_audience, tuple(sorted(settings.token_max_lifetimes.items())))
    if seen is not None and still_valid(seen, key_id, secret, rules):
        return seen.claims
    claims = verify(
        token,
        secret,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_lifetimes=settings.token_max_lifetimes,
    )
    VERIFIED.put(token, Verified(key_id, secret, claims, rules))
    return claims


async def _session(token: str, store: Store) -> Principal:
    if not token or len(token) > 256:
        raise InvalidToken("malformed session token")
    session = await store.sessions.find_one({"_id": hash_session_token(token)})
    if session is None:
        raise InvalidToken("unknown session token")
    user = await store.users.find_one(
        {"appId": session["appId"], "_id": session["userId"]}, {"externalUserId": 1, "mergedInto": 1}
    )
    # A session token stands for an anonymous user only while it stays anonymous.
    if user is None or user.get("externalUserId") or user.get("mergedInto"):
        raise InvalidToken("session token no longer valid: the user is identified")
    return Principal(Scope.SESSION, app_id=session["appId"], user_id=session["userId"])
