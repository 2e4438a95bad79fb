"""The per-request context: caller, store, and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from app.auth.principal import Principal
from app.config import Settings
from app.crypto import SecretBox
from app.domain import categories, history, installations, users, webhooks
from app.store.client import Store

Document = dict[str, Any]
# (user id, first, after) → (events newest first, whether more follow)
HistoryKey = tuple[str, int, str | None]
HistoryPage = tuple[list[Document], bool]


@dataclass(slots=True)
class Loaders:
    """Batch look-ups that a list could repeat; created fresh for every request."""

    user_by_id: DataLoader[str, Document | None]
    installations_by_user_id: DataLoader[str, list[Document]]
    installation_by_push_registration_id: DataLoader[str, Document | None]
    categories_by_app: DataLoader[str, list[Document]]  # preference categories, by app id
    history_pages: DataLoader[HistoryKey, HistoryPage]
    redelivery_by_endpoint_id: DataLoader[str, Document | None]  # a webhook redelivery still running


def build_loaders(store: Store, app_id: str | None) -> Loaders:
    async def load_users(ids: list[str]) -> list[Document | None]:
        if app_id is None:
            return [None] * len(ids)
        return await users.find_users_by_ids(store, app_id, ids)

    async def load_installations(user_ids: list[str]) -> list[list[Document]]:
        if app_id is None:
            return [[] for _ in user_ids]
        return await installations.find_by_user_ids(store, app_id, user_ids)

    async def load_installations_by_registration(registrations: list[str]) -> list[Document | None]:
        if app_id is None:
            return [None] * len(registrations)
        return await installations.find_by_push_registration_ids(store, app_id, registrations)

    async def load_categories(app_ids: list[str]) -> list[list[Document]]:
        return await categories.categories_of_apps(store, app_ids)

    async def load_history(keys: list[HistoryKey]) -> list[HistoryPage]:
        if app_id is None:
            return [([], False) for _ in keys]
        # One round trip per distinct (first, after); a list of users asks with one of them.
        found: dict[HistoryKey, HistoryPage] = {}
        for first, after in dict.fromkeys((key[1], key[2]) for key in keys):
            user_ids = [key[0] for key in keys if key[1:] == (first, after)]
            for user_id, page in zip(user_ids, await history.pages(store, app_id, user_ids, first, after), strict=True):
                found[(user_id, first, after)] = page
        return [found[key] for key in keys]

    async def load_redeliveries(endpoint_ids: list[str]) -> list[Document | None]:
        if app_id is None:
            return [None] * len(endpoint_ids)
        return await webhooks.running_redeliveries(store, app_id, endpoint_ids)

    return Loaders(
        user_by_id=DataLoader(load_fn=load_users),
        installations_by_user_id=DataLoader(load_fn=load_installations),
        installation_by_push_registration_id=DataLoader(load_fn=load_installations_by_registration),
        categories_by_app=DataLoader(load_fn=load_categories),
        # A page of users is at most 100; a bound keeps one aggregate's $unionWith branches
        # well under MongoDB's 1,000 pipeline stages when aliases list more users.
        history_pages=DataLoader(load_fn=load_history, max_batch_size=100),
        redelivery_by_endpoint_id=DataLoader(load_fn=load_redeliveries),
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
    # This process's webhook dispatcher starts its next round now (an endpoint was created,
    # enabled or asked to redeliver, or a purge was scheduled: it runs housekeeping too); a
    # no-op where the process runs none.
    wake_dispatcher: Callable[[], None]
