"""A change that runs in a transaction commits with its change event, or neither exists."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure

from app.store import outbox
from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import PERSONALIZE, register_anonymous


async def test_a_failure_after_the_outbox_write_leaves_neither_change_nor_event(
    gateway: Gateway, tenant: Tenant, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    installation, _ = await register_anonymous(gateway, tenant, "phone")
    before = await store.users.find_one({"appId": tenant.app_id})
    events_before = await outbox.events(store).count_documents({"appId": tenant.app_id})
    original = outbox.append

    async def failing(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        # The events are written through the transaction's session, then the step fails: an
        # outbox write outside the transaction would leave them behind.
        await original(*args, **kwargs)
        raise OperationFailure("injected: a failure right after the outbox write")

    monkeypatch.setattr(outbox, "append", failing)
    body = await gateway.execute(
        PERSONALIZE, {"prid": "phone", "identity": {"externalUserId": "carol"}}, token=tenant.app_token
    )
    assert body.get("errors"), body  # the call failed as a whole
    monkeypatch.setattr(outbox, "append", original)
    after = await store.users.find_one({"appId": tenant.app_id})
    assert after == before  # not personalized
    assert await store.history.count_documents({"appId": tenant.app_id, "kind": "PERSONALIZED"}) == 0
    assert await outbox.events(store).count_documents({"appId": tenant.app_id}) == events_before
    assert installation["pushRegistrationId"] == "phone"
    # The same call without the failure commits the change and its events together.
    body = await gateway.execute(
        PERSONALIZE, {"prid": "phone", "identity": {"externalUserId": "carol"}}, token=tenant.app_token
    )
    assert body["data"]["personalize"]["userErrors"] == []
    types = [entry["type"] async for entry in outbox.events(store).find({"appId": tenant.app_id}).sort("seq", 1)]
    assert "user.personalized" in types
