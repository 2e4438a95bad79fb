"""The outbox is read by ``_id`` range (``<appId>:<seq>``, zero-padded): commit order, one
app only, and on the embedded store through an index rather than a read of every entry."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mongoeco import AsyncMongoClient as MongoecoClient

from app.store import indexes, outbox
from app.store import webhooks as webhook_store
from app.store.client import Store
from app.store.embedded_engine import EmbeddedSQLiteEngine

NOW = datetime(2026, 1, 1)  # a MongoecoClient of its own hands back naive times


def _entry(app_id: str, seq: int) -> dict[str, object]:
    return {
        "_id": outbox.entry_id(app_id, seq),
        "appId": app_id,
        "seq": seq,
        "type": "USER_UPDATED",
        "occurredAt": NOW,
    }


async def test_an_apps_entries_come_in_number_order_and_no_other_apps(tmp_path: Path) -> None:
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        store = Store(client=client, db=client["db"])
        await indexes.ensure_indexes(store)
        # "app" is a prefix of "app2" and of "app:x"; 9 < 10 < 100 only when padded.
        seqs = [*range(1, 13), 100]
        entries = [_entry(app_id, seq) for seq in seqs for app_id in ("app", "app2", "app:x")]
        await outbox.events(store).insert_many(entries)
        page = await outbox.read(store, "app", 0, 50, NOW)
        assert [entry["seq"] for entry in page.entries] == list(range(1, 13))  # stops at the hole after 12
        assert {entry["appId"] for entry in page.entries} == {"app"}
        later = await outbox.read(store, "app", 12, 50, NOW.replace(year=2027))  # the hole is old: skipped
        assert [entry["seq"] for entry in later.entries] == [100]


class _Recorded:
    """A collection that notes the filter and sort of each find before running it."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.commands: list[dict[str, Any]] = []

    def find(self, query: dict[str, Any]) -> Any:
        command: dict[str, Any] = {"find": self.collection.name, "filter": query}
        self.commands.append(command)
        cursor = self.collection.find(query)
        plain_sort = cursor.sort

        def sort(key: str, direction: int) -> Any:
            command["sort"] = {key: direction}
            return plain_sort(key, direction)

        cursor.sort = sort
        return cursor


async def test_a_tail_read_goes_through_an_index_not_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The (appId, seq) index never served a read on the embedded store: every entry of every
    app was read (6 → 30 ms from 2,000 to 16,000 entries). The read sent now is an _id range."""
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        store = Store(client=client, db=client["db"])
        await indexes.ensure_indexes(store)
        await outbox.events(store).insert_many([_entry("quiet", 1), _entry("quiet", 2)])
        recorded = _Recorded(outbox.events(store))
        monkeypatch.setattr(outbox, "events", lambda _store: recorded)
        page = await outbox.read(store, "quiet", 0, 10, NOW)
        assert [entry["seq"] for entry in page.entries] == [1, 2]
        for command in recorded.commands:
            explained = await store.db.command({"explain": {**command, "limit": 500}})
            plan = " ".join(explained["details"]["engine_details"])
            assert "profile_gateway_app_id_order" in plan and "TEMP B-TREE" not in plan, plan


async def test_the_index_reads_no_longer_use_is_dropped(tmp_path: Path) -> None:
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        store = Store(client=client, db=client["db"])
        await outbox.events(store).create_index([("appId", 1), ("seq", 1)], name="app_seq")
        await outbox.events(store).create_index([("occurredAt", 1)], name="occurred")  # retention's, before
        await webhook_store.deliveries(store).create_index([("occurredAt", 1)], name="occurred")
        await indexes.ensure_indexes(store)
        assert set(await outbox.events(store).index_information()) == {"_id_"}
        assert "occurred" not in await webhook_store.deliveries(store).index_information()
