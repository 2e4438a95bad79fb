"""The apps and app_keys collections: look-ups (writes go through the unit of work)."""

from __future__ import annotations

from app.store.client import Document, Session, Store


async def find(store: Store, app_id: str, session: Session | None = None) -> Document | None:
    return await store.apps.find_one({"_id": app_id}, session=session)


async def count_active_keys(store: Store, app_id: str, session: Session | None = None) -> int:
    return await store.app_keys.count_documents({"appId": app_id, "revokedAt": None}, session=session)


async def find_key(
    store: Store, key_id: str, app_id: str | None = None, session: Session | None = None
) -> Document | None:
    """The key (revoked or not); with ``app_id``, only if it belongs to that app."""
    query = {"_id": key_id} if app_id is None else {"_id": key_id, "appId": app_id}
    return await store.app_keys.find_one(query, session=session)


async def find_active_key(store: Store, key_id: str) -> Document | None:
    return await store.app_keys.find_one({"_id": key_id, "revokedAt": None})


async def all_settings(store: Store) -> list[Document]:
    """Every app's id and settings, in id order: what a background walk over the apps reads."""
    return [app async for app in store.apps.find({}, {"_id": 1, "settings": 1}).sort("_id", 1)]
