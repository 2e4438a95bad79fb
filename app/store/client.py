"""One AsyncMongoClient per process, opened in the app's lifespan, and the collections it serves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from app.config import Settings
from app.store.embedded import EmbeddedServer
from app.store.ttl_cache import TtlCache

Document = dict[str, Any]
# An app may have 500 definitions of up to 50 object fields each (a few MB at most): the
# definitions of at most this many apps are kept per process, the most recently used.
DEFINITIONS_CACHE_APPS = 128
# What the domain names without importing the driver.
Session = AsyncClientSession
Collection = AsyncCollection[Document]


@dataclass(slots=True)
class Store:
    """The database handle and the gateway's collections."""

    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    embedded: EmbeddedServer | None = None
    # The one switch for embedded-only workarounds (docs/operations/embedded-store.md):
    # on when the store is mongoeco, started here or reached as its own process.
    embedded_workarounds: bool = False
    apps: AsyncCollection[Document] = field(init=False)
    app_keys: AsyncCollection[Document] = field(init=False)
    users: AsyncCollection[Document] = field(init=False)
    installations: AsyncCollection[Document] = field(init=False)
    history: AsyncCollection[Document] = field(init=False)
    sessions: AsyncCollection[Document] = field(init=False)
    attribute_definitions: AsyncCollection[Document] = field(init=False)
    preference_categories: AsyncCollection[Document] = field(init=False)
    # The embedded server runs one transaction at a time (see app/store/transactions.py).
    transaction_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    # Active app keys as (app id, secret), read by every authenticated request: kept per
    # process for `app_key_cache_seconds` (open_store sets it from the settings).
    app_key_cache: TtlCache[tuple[str, str]] = field(init=False, default_factory=lambda: TtlCache(5.0, 1_024))
    # Ids of existing apps (X-App-Id callers), kept the same way and as long as app keys.
    app_cache: TtlCache[str] = field(init=False, default_factory=lambda: TtlCache(5.0, 1_024))
    # Apps' settings (app/domain/app_settings.py), read by writes: kept the same way.
    app_settings_cache: TtlCache[Any] = field(init=False, default_factory=lambda: TtlCache(5.0, 1_024))
    # Each app's attribute definitions (app/domain/definitions.py), read by attribute writes.
    definitions_cache: TtlCache[Any] = field(init=False, default_factory=lambda: TtlCache(5.0, DEFINITIONS_CACHE_APPS))

    def __post_init__(self) -> None:
        self.apps = self.db["apps"]
        self.app_keys = self.db["app_keys"]
        self.users = self.db["users"]
        self.installations = self.db["installations"]
        self.history = self.db["history"]
        self.sessions = self.db["sessions"]
        self.attribute_definitions = self.db["attribute_definitions"]
        self.preference_categories = self.db["preference_categories"]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
        if self.embedded is not None:
            self.embedded.stop()


def connect(
    uri: str,
    database_name: str,
    *,
    timeout_ms: int,
    listeners: list[CommandListener] | None = None,
    embedded: EmbeddedServer | None = None,
) -> Store:
    # Bounded timeouts: a missing store must surface as an error, never as a hung request.
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 2, 10_000),
        event_listeners=listeners or [],
        appname="profile-gateway",
    )
    return Store(client=client, db=client[database_name], embedded=embedded, embedded_workarounds=embedded is not None)


def open_store(settings: Settings, listeners: list[CommandListener] | None = None) -> Store:
    """Connect to MONGODB_URI, or start the embedded server and connect to it."""
    embedded: EmbeddedServer | None = None
    if settings.mongodb_uri is not None:
        uri = settings.mongodb_uri
    else:
        embedded = EmbeddedServer(settings.data_dir, engine=settings.embedded_engine)
        uri = embedded.start()
    store = connect(
        uri,
        settings.database_name,
        timeout_ms=settings.store_timeout_ms,
        listeners=listeners,
        embedded=embedded,
    )
    store.app_key_cache = TtlCache(settings.app_key_cache_seconds, settings.app_key_cache_size)
    store.app_cache = TtlCache(settings.app_key_cache_seconds, settings.app_key_cache_size)
    store.app_settings_cache = TtlCache(settings.app_key_cache_seconds, settings.app_key_cache_size)
    store.definitions_cache = TtlCache(
        settings.app_key_cache_seconds, min(settings.app_key_cache_size, DEFINITIONS_CACHE_APPS)
    )
    return store
