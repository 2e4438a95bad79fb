"""The per-request context: caller, store, and the request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from app.auth.principal import Principal
from app.config import Settings
from app.crypto import SecretBox
from app.domain import categories, installations, users
from app.store.client import Store

Document = dict[str, Any]


@dataclass(slots=True)
class Loaders:
    """Batch look-ups that a list could repeat; created fresh for every request."""

    user_by_id: DataLoader[str, Document | None]
    installations_by_user_id: DataLoader[str, list[Document]]
    categories_by_app: DataLoader[str, list[Document]]  # preference categories, by app id


def build_loaders(store: Store, app_id: str | None) -> Loaders:
    async def load_users(ids: list[str]) -> list[Document | None]:
        if app_id is None:
            return [None] * len(ids)
        return await users.find_users_by_ids(store, app_id, ids)

    async def load_installations(user_ids: list[str]) -> list[list[Document]]:
        if app_id is None:
            return [[] for _ in user_ids]
        return await installations.find_by_user_ids(store, app_id, user_ids)

    async def load_categories(app_ids: list[str]) -> list[list[Document]]:
        return await categories.categories_of_apps(store, app_ids)

    return Loaders(
        user_by_id=DataLoader(load_fn=load_users),
        installations_by_user_id=DataLoader(load_fn=load_installations),
        categories_by_app=DataLoader(load_fn=load_categories),
    )


@dataclass(slots=True)
class Context:
    request: Request
    response: Response
    settings: Settings
    store: Store
    box: SecretBox
    principal: Principal
    request_id: str
    loaders: Loaders
    extras: dict[str, Any] = field(default_factory=dict)
