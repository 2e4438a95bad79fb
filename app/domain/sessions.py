"""Session tokens: opaque, high-entropy tokens for SDKs on anonymous installations.

Only a hash is stored (``sessions``: {_id: sha256(token), appId, userId, createdAt}), so
a copy of the database hands out no working token. A token stands for one anonymous
user; it is deleted when that user is identified, merged or deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from app.store.client import Store

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so an unsalted hash is enough (and allows a look-up)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(store: Store, app_id: str, user_id: str, session: AsyncClientSession | None = None) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await store.sessions.insert_one(
        {
            "_id": hash_token(token),
            "appId": app_id,
            "userId": user_id,
            "createdAt": datetime.now(UTC),
        },
        session=session,
    )
    return token


async def revoke_for_user(store: Store, app_id: str, user_id: str, session: AsyncClientSession | None = None) -> None:
    await store.sessions.delete_many({"appId": app_id, "userId": user_id}, session=session)
