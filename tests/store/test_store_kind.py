"""The embedded-only workarounds switch on for mongoeco, however it is reached, and only for it."""

from __future__ import annotations

import os
from pathlib import Path

from app.store.client import Store, connect
from app.store.embedded import EmbeddedServer
from app.store.store_kind import detect_embedded_store


async def test_a_gateway_reaching_the_store_process_by_uri_turns_the_workarounds_on(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path, engine="memory")
    uri = server.start()
    try:
        # As a gateway with MONGODB_URI pointing at `profile-gateway store` connects.
        store = connect(uri, "kind_test", timeout_ms=5_000)
        assert not store.embedded_workarounds
        assert await detect_embedded_store(store)
        await store.close()
    finally:
        server.stop()


async def test_the_session_store_is_recognised(store: Store) -> None:
    assert await detect_embedded_store(store) is ("MONGODB_URI" not in os.environ)
