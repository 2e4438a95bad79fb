"""JSON Web Tokens: verification with a pinned algorithm allow-list, and minting (CLI, tests)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

# HMAC only: keys are shared secrets. Listing the algorithms rules out "none" and
# algorithm-confusion attacks.
ALGORITHMS = ["HS256"]
REQUIRED_CLAIMS = ["exp"]
# RFC 7519 NumericDate claims: JSON numbers. PyJWT would also take a numeric string.
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")


class InvalidToken(Exception):
    """The credential is missing, malformed, expired or signed with the wrong key."""


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken("malformed token") from error
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    return header


def verify(
    token: str,
    secret: str,
    *,
    audience: str | None,
    leeway_seconds: int,
    max_lifetimes: Mapping[str, timedelta] | None = None,
) -> dict[str, Any]:
    """``max_lifetimes``: the longest lifetime a token of each ``scope`` claim may have,
    counted from its ``iat`` (or from now, without one); a longer-lived token is refused."""
    try:
        # Checked before PyJWT's own validation, which accepts numeric strings.
        raw: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise InvalidToken(f"invalid token: {error}") from error
    for name in NUMERIC_DATE_CLAIMS:
        if name in raw and (isinstance(raw[name], bool) or not isinstance(raw[name], int | float)):
            raise InvalidToken(f"invalid token: the {name} claim must be a number (seconds since the epoch)")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=audience,
            leeway=leeway_seconds,
            options={"require": REQUIRED_CLAIMS, "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("token expired") from error
    except jwt.PyJWTError as error:
        raise InvalidToken(f"invalid token: {error}") from error
    limit = (max_lifetimes or {}).get(str(claims.get("scope")))
    if limit is not None:
        _check_lifetime(claims, limit, leeway_seconds)
    return claims


def _check_lifetime(claims: dict[str, Any], limit: timedelta, leeway_seconds: int) -> None:
    now = time.time()
    issued = claims.get("iat")
    start = min(float(issued), now) if isinstance(issued, int | float) else now
    if float(claims["exp"]) - start > limit.total_seconds() + leeway_seconds:
        hours = limit.total_seconds() / 3600
        raise InvalidToken(f"token lifetime exceeds the maximum of {hours:g} hours for its scope")


def mint(
    secret: str,
    claims: dict[str, Any],
    *,
    key_id: str | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    now = datetime.now(UTC)
    payload = {"iat": now, "exp": now + ttl, **claims}
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(payload, secret, algorithm=ALGORITHMS[0], headers=headers)
