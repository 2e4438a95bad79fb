"""The per-request context: caller, store, and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
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


class Loaders:
    """Batch look-ups that a list could repeat, for one request. Each DataLoader is made on
    first use: most requests use one of them or none."""

    def __init__(self, store: Store, app_id: str | None) -> None:
        self.store = store
        self.app_id = app_id

    @cached_property
    def user_by_id(self) -> DataLoader[str, Document | None]:
        async def load(ids: list[str]) -> list[Document | None]:
            if self.app_id is None:
                return [None] * len(ids)
            return await users.find_users_by_ids(self.store, self.app_id, ids)

        return DataLoader(load_fn=load)

    @cached_property
    def installations_by_user_id(self) -> DataLoader[str, list[Document]]:
        async def load(user_ids: list[str]) -> list[list[Document]]:
            if self.app_id is None:
                return [[] for _ in user_ids]
            return await installations.find_by_user_ids(self.store, self.app_id, user_ids)

        return DataLoader(load_fn=load)

    @cached_property
    def installation_by_push_registration_id(self) -> DataLoader[str, Document | None]:
        async def load(registrations: list[str]) -> list[Document | None]:
            if self.app_id is None:
                return [None] * len(registrations)
            return await installations.find_by_push_registration_ids(self.store, self.app_id, registrations)

        return DataLoader(load_fn=load)

    @cached_property
    def categories_by_app(self) -> DataLoader[str, list[Document]]:
        """Preference categories, by app id."""

        async def load(app_ids: list[str]) -> list[list[Document]]:
            return await categories.categories_of_apps(self.store, app_ids)

        return DataLoader(load_fn=load)

    @cached_property
    def history_pages(self) -> DataLoader[HistoryKey, HistoryPage]:
        async def load(keys: list[HistoryKey]) -> list[HistoryPage]:
            if self.app_id is None:
                return [([], False) for _ in keys]
            # One round trip per distinct (first, after); a list of users asks with one of them.
            found: dict[HistoryKey, HistoryPage] = {}
            for first, after in dict.fromkeys((key[1], key[2]) for key in keys):
                user_ids = [key[0] for key in keys if key[1:] == (first, after)]
                pages = await history.pages(self.store, self.app_id, user_ids, first, after)
                for user_id, page in zip(user_ids, pages, strict=True):
                    found[(user_id, first, after)] = page
            return [found[key] for key in keys]

        # A page of users is at most 100; a bound keeps one aggregate's $unionWith branches
        # well under MongoDB's 1,000 pipeline stages when aliases list more users.
        return DataLoader(load_fn=load, max_batch_size=100)

    @cached_property
    def redelivery_by_endpoint_id(self) -> DataLoader[str, Document | None]:
        """A webhook endpoint's redelivery still running."""

        async def load(endpoint_ids: list[str]) -> list[Document | None]:
            if self.app_id is None:
                return [None] * len(endpoint_ids)
            return await webhooks.running_redeliveries(self.store, self.app_id, endpoint_ids)

        return DataLoader(load_fn=load)


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
