"""Transactions on the embedded server (mongoeco), which needs help to behave like MongoDB:
see app/store/transactions.py and app/store/embedded_gate.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession

from app.store.client import Store, connect
from app.store.embedded import EmbeddedServer
from app.store.transactions import in_transaction


@pytest.fixture
async def embedded_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    engine: Literal["sqlite", "memory"] = request.param
    # A short wait, so that a test can also see what happens once it runs out.
    server = EmbeddedServer(tmp_path, engine=engine, transaction_wait_seconds=0.3)
    store = connect(server.start(), "tx_test", timeout_ms=5_000, embedded=server)
    yield store
    await store.close()


@pytest.mark.parametrize("embedded_store", ["sqlite", "memory"], indirect=True)
async def test_other_sessions_carry_on_while_a_transaction_is_open(embedded_store: Store) -> None:
    store = embedded_store
    await store.users.insert_one({"_id": "seed"})

    async def slow_work(session: AsyncClientSession) -> None:
        await store.users.insert_one({"_id": "tx-1"}, session=session)
        await asyncio.sleep(0.05)
        await store.users.insert_one({"_id": "tx-2"}, session=session)

    async def plain(index: int) -> int:
        await asyncio.sleep(0.01 * index)
        await store.history.insert_one({"_id": index})
        return await store.users.count_documents({})

    results = await asyncio.gather(in_transaction(store, slow_work), *(plain(i) for i in range(6)))
    # Plain commands see the store either before or after the transaction, never half of it.
    assert all(count in (1, 3) for count in results[1:])
    assert await store.users.count_documents({}) == 3
    assert await store.history.count_documents({}) == 6


@pytest.mark.parametrize("embedded_store", ["memory"], indirect=True)
async def test_a_conflicting_commit_is_retried_and_leaves_the_session_clean(
    embedded_store: Store,
) -> None:
    store = embedded_store
    attempts = 0

    async def work(session: AsyncClientSession) -> None:
        nonlocal attempts
        attempts += 1
        await store.users.insert_one({"attempt": attempts}, session=session)
        if attempts == 1:
            # A write outside the transaction, from inside it: it waits for the transaction
            # until the wait runs out, then makes the memory engine fail the commit.
            await store.history.insert_one({"outside": True})

    await in_transaction(store, work)
    assert attempts == 2
    assert await store.users.count_documents({}) == 1
    # The failed transaction was aborted: pooled session ids are not stuck inside it, so
    # later plain writes are committed and visible from any session.
    async with store.client.start_session() as first, store.client.start_session() as second:
        await store.history.insert_one({"after": True}, session=first)
        assert await store.history.count_documents({}, session=second) == 2
        assert await store.history.count_documents({}, session=first) == 2
