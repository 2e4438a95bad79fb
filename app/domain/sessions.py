"""Session tokens: opaque, high-entropy tokens for SDKs on anonymous installations.

Only a hash is stored (``sessions``: {_id: sha256(token), appId, userId, createdAt}), so
a copy of the database hands out no working token. A token stands for one anonymous
user; it is deleted when that user is identified, merged or deleted.
"""

from __future__ import annotations

import hashlib
import secrets

from app.domain import clock
from app.store.unit_of_work import UnitOfWork

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so an unsalted hash is enough (and allows a look-up)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(unit: UnitOfWork, app_id: str, user_id: str) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await unit.insert_one(
        unit.store.sessions,
        {"_id": hash_token(token), "appId": app_id, "userId": user_id, "createdAt": clock.now()},
    )
    return token


async def revoke_for_user(unit: UnitOfWork, app_id: str, user_id: str) -> None:
    await unit.delete_many(unit.store.sessions, {"appId": app_id, "userId": user_id})
