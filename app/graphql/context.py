"""The per-request context: caller, store, and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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

    def _of_app[K, V](
        self, find: Callable[[Store, str, list[K]], Awaitable[list[V]]], missing: Callable[[], V]
    ) -> DataLoader[K, V]:
        """A DataLoader of ``find`` within the request's app; without one (admin) every key is
        ``missing()``."""

        async def load(keys: list[K]) -> list[V]:
            if self.app_id is None:
                return [missing() for _ in keys]
            return await find(self.store, self.app_id, keys)

        return DataLoader(load_fn=load)

    @cached_property
    def user_by_id(self) -> DataLoader[str, Document | None]:
        return self._of_app(users.find_users_by_ids, lambda: None)

    @cached_property
    def installations_by_user_id(self) -> DataLoader[str, list[Document]]:
        return self._of_app(installations.find_by_user_ids, list)

    @cached_property
    def installation_by_push_registration_id(self) -> DataLoader[str, Document | None]:
        return self._of_app(installations.find_by_push_registration_ids, lambda: None)

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
        return self._of_app(webhooks.running_redeliveries, lambda: None)


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
