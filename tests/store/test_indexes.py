"""Indexes exist after start-up; creating them again is harmless."""

from __future__ import annotations

from app.store import registry
from app.store.client import Store
from app.store.indexes import ensure_indexes
from tests.helpers import Tenant


async def _describe(store: Store) -> dict[str, dict[str, object]]:
    described: dict[str, dict[str, object]] = {}
    collections = ("users", "identifier_registry", "installations", "app_keys", "history", "sessions")
    for name in (*collections, "attribute_definitions"):
        information = await store.db[name].index_information()
        for index, spec in information.items():
            described[f"{name}.{index}"] = {"key": list(spec["key"]), "unique": bool(spec.get("unique"))}
    return described


async def test_identifier_uniqueness_rests_on_the_registry_not_on_user_indexes(store: Store) -> None:
    indexes = await _describe(store)
    # The users collection has no unique index but _id (each made every write scan it).
    assert [name for name, spec in indexes.items() if name.startswith("users.") and spec["unique"]] == ["users._id_"]
    assert indexes["identifier_registry.user"]["key"] == [("appId", 1), ("userId", 1)]
    # Nor has the installations collection one on pushRegistrationId (the registry holds it).
    assert indexes["installations.push_registration_id"]["unique"] is False


async def test_start_up_drops_the_retired_unique_indexes(store: Store) -> None:
    """A store written by an earlier version loses its unique identifier indexes at start-up."""
    await store.users.create_index(
        [("appId", 1), ("emails", 1)],
        name="unique_email",
        unique=True,
        partialFilterExpression={"emails": {"$type": "string"}},
    )
    await ensure_indexes(store)
    assert "unique_email" not in await store.users.index_information()


async def test_start_up_moves_push_registration_ids_into_the_registry(store: Store, tenant: Tenant) -> None:
    """A store written by an earlier version: installations under a unique index and no
    registry entries. Start-up registers them, then swaps the index for a plain one."""
    installation = {"_id": "legacy-installation", "appId": tenant.app_id, "userId": "legacy-user"}
    await store.installations.drop_index("push_registration_id")
    await store.installations.create_index(
        [("appId", 1), ("pushRegistrationId", 1)], name="unique_push_registration_id", unique=True
    )
    await store.installations.insert_one({**installation, "pushRegistrationId": "legacy-device"})
    await registry.collection(store).delete_one({"_id": registry.INSTALLATIONS_BACKFILL_MARK})
    try:
        await ensure_indexes(store)
        entry = await registry.collection(store).find_one(
            {"_id": registry.installation_key(tenant.app_id, "legacy-device")}
        )
        assert entry is not None and entry["installationId"] == "legacy-installation"
        information = await store.installations.index_information()
        assert "unique_push_registration_id" not in information
        assert not information["push_registration_id"].get("unique")
    finally:
        await store.installations.delete_one({"_id": "legacy-installation"})
        await registry.collection(store).delete_one({"_id": registry.installation_key(tenant.app_id, "legacy-device")})


async def test_creating_indexes_twice_is_harmless(store: Store) -> None:
    before = await _describe(store)
    await ensure_indexes(store)
    await ensure_indexes(store)
    assert await _describe(store) == before
