"""JSON Web Tokens: verification with a pinned algorithm allow-list, and minting (CLI, tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

# HMAC only: keys are shared secrets. Listing the algorithms rules out "none" and
# algorithm-confusion attacks.
ALGORITHMS = ["HS256"]
REQUIRED_CLAIMS = ["exp"]


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


def verify(token: str, secret: str, *, audience: str | None, leeway_seconds: int) -> dict[str, Any]:
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
    return claims


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
