"""The preference_categories collection: look-ups (writes go through the unit of work)."""

from __future__ import annotations

from collections.abc import Sequence

from app.store.client import Document, Store


async def find(store: Store, category_id: str) -> Document | None:
    return await store.preference_categories.find_one({"_id": category_id})


async def count(store: Store, app_id: str) -> int:
    return await store.preference_categories.count_documents({"appId": app_id})


async def of_apps(store: Store, app_ids: Sequence[str]) -> list[Document]:
    """Every category of these apps, sorted by name: one round trip."""
    query = {"appId": {"$in": list(set(app_ids))}}
    return await store.preference_categories.find(query).sort("name", 1).to_list()
