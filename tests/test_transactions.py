"""The transaction helper against the store the suite runs on (embedded or MongoDB)."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from app.store.client import Store
from app.store.transactions import in_transaction
from tests.helpers import Tenant


async def test_a_transaction_disturbed_by_another_write_commits_and_leaves_the_store_healthy(
    store: Store, tenant: Tenant
) -> None:
    attempts = 0

    async def work(session: AsyncClientSession) -> None:
        nonlocal attempts
        attempts += 1
        await store.history.insert_one({"appId": tenant.app_id, "probe": "in-transaction"}, session=session)
        if attempts == 1:
            # A write outside the transaction while it runs (the embedded server then fails the commit).
            await store.sessions.insert_one({"appId": tenant.app_id, "probe": "outside"})

    await in_transaction(store, work)
    assert await store.history.count_documents({"appId": tenant.app_id, "probe": "in-transaction"}) == 1
    # Later writes outside any transaction are committed and visible from other sessions.
    async with store.client.start_session() as first, store.client.start_session() as second:
        await store.sessions.insert_one({"appId": tenant.app_id, "probe": "after"}, session=first)
        assert await store.sessions.count_documents({"appId": tenant.app_id}, session=second) == 2
        assert await store.sessions.count_documents({"appId": tenant.app_id}, session=first) == 2
