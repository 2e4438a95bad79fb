"""Apps (tenants) and their signing keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.crypto import SecretBox
from app.domain import clock
from app.domain.app_settings import AppSettings, SettingsChange, check_retention_days
from app.domain.errors import DomainError, ErrorCode, not_found
from app.domain.paging import check_page_size
from app.domain.patch import UNSET
from app.store import apps as apps_store
from app.store import unit_of_work
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

MAX_APP_NAME_LENGTH = 200
RETENTION_PATH = ("settings", "anonymousLeadRetentionDays")
MAX_ACTIVE_KEYS_PER_APP = 10


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as created: the secret is shown to the caller once and never again."""

    id: str
    app_id: str
    secret: str
    created_at: datetime


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


async def create_app(
    store: Store, box: SecretBox, name: str, settings: AppSettings | None = None
) -> tuple[dict[str, Any], IssuedKey]:
    name = name.strip()
    if not name:
        raise DomainError(ErrorCode.INVALID_INPUT, "an app needs a name", ("name",))
    if len(name) > MAX_APP_NAME_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"an app name has at most {MAX_APP_NAME_LENGTH} characters", ("name",)
        )
    if settings is not None:
        check_retention_days(settings.anonymous_lead_retention_days, RETENTION_PATH)

    async def work(unit: UnitOfWork) -> tuple[dict[str, Any], IssuedKey]:
        app: dict[str, Any] = {
            "_id": _new_id("app"),
            "name": name,
            "createdAt": clock.now(),
            "settings": (settings or AppSettings()).stored(),
        }
        await unit.insert_one(store.apps, app)
        return app, await _issue_key(unit, box, app["_id"])

    created = await unit_of_work.run(store, work)
    store.app_cache.forget(created[0]["_id"])  # usable at once with X-App-Id in this process
    return created


async def get_app(store: Store, app_id: str) -> dict[str, Any] | None:
    return await apps_store.find(store, app_id)


async def update_app_settings(store: Store, app_id: str, change: SettingsChange) -> dict[str, Any]:
    """Change an app's settings; the app as stored afterwards."""
    if change.anonymous_lead_retention_days is not UNSET:
        check_retention_days(change.anonymous_lead_retention_days, RETENTION_PATH)

    async def work(unit: UnitOfWork) -> dict[str, Any]:
        fields, removed = change.stored(), change.removed()
        if fields or removed:
            update: dict[str, Any] = {"$set": fields} if fields else {}
            if removed:
                update["$unset"] = dict.fromkeys(removed, "")
            app = await unit.find_one_and_update(store.apps, {"_id": app_id}, update)
        else:
            app = await apps_store.find(store, app_id, unit.session)
        if app is None:
            raise not_found("the app", ("appId",))
        return app

    app = await unit_of_work.run(store, work)
    settings_changed(store, app_id)
    return app


def settings_changed(store: Store, app_id: str) -> None:
    """An app's settings were just changed: in effect at once in this process (other
    processes within `app_key_cache_seconds`)."""
    store.app_settings_cache.forget(app_id)


async def settings_of(store: Store, app_id: str) -> AppSettings:
    """The app's settings (defaults for those it never set). Kept per process for
    `app_key_cache_seconds`, as app keys are: a change made through another process is in
    effect here within that delay, at once in the process that made it."""

    async def load() -> AppSettings:
        return AppSettings.of(await store.apps.find_one({"_id": app_id}, {"settings": 1}))

    settings = await store.app_settings_cache.get_or_load(app_id, load)
    return settings if isinstance(settings, AppSettings) else AppSettings()


async def app_exists(store: Store, app_id: str) -> bool:
    """Whether the app exists (an X-App-Id caller names it). Kept per process for
    `app_key_cache_seconds`, as app keys are; an unknown id is remembered for at most 1 s, so
    an app created through another process is accepted here within that second."""

    async def load() -> str | None:
        return app_id if await apps_store.find(store, app_id) is not None else None

    return await store.app_cache.get_or_load(app_id, load) is not None


async def create_app_key(store: Store, box: SecretBox, app_id: str) -> IssuedKey:
    async def work(unit: UnitOfWork) -> IssuedKey:
        if await apps_store.find(store, app_id, unit.session) is None:
            raise not_found("the app", ("appId",))
        active = await apps_store.count_active_keys(store, app_id, unit.session)
        if active >= MAX_ACTIVE_KEYS_PER_APP:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"an app has at most {MAX_ACTIVE_KEYS_PER_APP} active keys; revoke one first",
                ("appId",),
            )
        return await _issue_key(unit, box, app_id)

    return await unit_of_work.run(store, work)


async def _issue_key(unit: UnitOfWork, box: SecretBox, app_id: str) -> IssuedKey:
    # 48 random bytes: well above the 32 that HS256 needs.
    key = IssuedKey(_new_id("key"), app_id, secrets.token_urlsafe(48), clock.now())
    await unit.insert_one(
        unit.store.app_keys,
        {
            "_id": key.id,
            "appId": app_id,
            "secret": box.encrypt(key.secret),
            "createdAt": key.created_at,
            "revokedAt": None,
        },
    )
    return key


async def revoke_app_key(store: Store, app_id: str, key_id: str) -> dict[str, Any]:
    async def work(unit: UnitOfWork) -> dict[str, Any]:
        key = await unit.find_one_and_update(
            store.app_keys, {"_id": key_id, "appId": app_id, "revokedAt": None}, {"$set": {"revokedAt": clock.now()}}
        )
        if key is None:  # already revoked (it keeps the time it was first revoked), or not found
            key = await apps_store.find_key(store, key_id, app_id, unit.session)
        if key is None:
            raise not_found("the key", ("keyId",))
        return key

    revoked = await unit_of_work.run(store, work)
    # Refused at once by this process; other processes within `app_key_cache_seconds`.
    store.app_key_cache.forget(key_id)
    return revoked


async def active_key_secret(store: Store, box: SecretBox, key_id: str) -> tuple[str, str] | None:
    """(app id, secret) of a key that exists and is not revoked. Kept per process for
    `app_key_cache_seconds`: a revocation takes effect at once in the process that made it and
    within that delay on every other replica (docs/reference/access-and-tokens.md)."""

    async def load() -> tuple[str, str] | None:
        key = await apps_store.find_active_key(store, key_id)
        return None if key is None else (key["appId"], box.decrypt(key["secret"]))

    return await store.app_key_cache.get_or_load(key_id, load)


MAX_APPS_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class AppPage:
    """Apps in id order with their active keys (ids and dates only: secrets never leave the store)."""

    apps: list[dict[str, Any]]
    keys: dict[str, list[dict[str, Any]]]
    has_next_page: bool


async def list_apps(store: Store, first: int, after: str | None = None) -> AppPage:
    """One page of apps (keyset on the id, so a lost app id can be found again) and their active keys."""
    check_page_size(first, MAX_APPS_PAGE_SIZE)
    query: dict[str, Any] = {} if after is None else {"_id": {"$gt": str(after)}}
    found = await store.apps.find(query, sort=[("_id", 1)], limit=first + 1, batch_size=first + 2).to_list()
    page = found[:first]
    return AppPage(
        apps=page, keys=await active_keys(store, [app["_id"] for app in page]), has_next_page=len(found) > first
    )


async def active_keys(store: Store, app_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The active keys of these apps, oldest first, in one query. The secret is projected
    away in the store, so it never reaches a listing."""
    keys: dict[str, list[dict[str, Any]]] = {app_id: [] for app_id in app_ids}
    if not app_ids:
        return keys
    cursor = store.app_keys.find(
        {"appId": {"$in": app_ids}, "revokedAt": None},
        projection={"secret": False},
        sort=[("createdAt", 1), ("_id", 1)],
    )
    async for key in cursor:
        keys[key["appId"]].append(key)
    return keys
