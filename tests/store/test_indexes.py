"""Indexes exist after start-up; creating them again is harmless."""

from __future__ import annotations

from app.store.client import Store
from app.store.indexes import ensure_indexes


async def _describe(store: Store) -> dict[str, dict[str, object]]:
    described: dict[str, dict[str, object]] = {}
    for name in ("users", "installations", "app_keys", "history", "sessions", "attribute_definitions"):
        information = await store.db[name].index_information()
        for index, spec in information.items():
            described[f"{name}.{index}"] = {"key": list(spec["key"]), "unique": bool(spec.get("unique"))}
    return described


async def test_identifier_indexes_exist(store: Store) -> None:
    indexes = await _describe(store)
    expected = {
        "users.unique_external_user_id": [("appId", 1), ("externalUserId", 1)],
        "users.unique_email": [("appId", 1), ("emails", 1)],
        "users.unique_phone": [("appId", 1), ("phones", 1)],
        "installations.unique_push_registration_id": [("appId", 1), ("pushRegistrationId", 1)],
    }
    for name, key in expected.items():
        assert name in indexes, name
        assert indexes[name]["unique"] is True, name
        assert [tuple(part) for part in indexes[name]["key"]] == key  # type: ignore[attr-defined]


async def test_creating_indexes_twice_is_harmless(store: Store) -> None:
    before = await _describe(store)
    await ensure_indexes(store)
    await ensure_indexes(store)
    assert await _describe(store) == before
