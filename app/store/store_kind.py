"""Is the store the embedded one? That decides the embedded-only workarounds (one switch).

A gateway that started the embedded server knows; one that reaches a ``profile-gateway
store`` process through MONGODB_URI asks the server: mongoeco answers ``buildInfo`` with
``gitVersion: "mongoeco"``, which no MongoDB build does.
"""

from __future__ import annotations

from app.store.client import Store


async def detect_embedded_store(store: Store) -> bool:
    """Set and return ``store.embedded_workarounds`` (one round trip when not already known)."""
    if not store.embedded_workarounds:
        info = await store.client.admin.command("buildInfo")
        store.embedded_workarounds = info.get("gitVersion") == "mongoeco"
    return store.embedded_workarounds
