"""Tombstones (users merged into another) are repointed and erased after the unit of work, in
batches, like the history they come with.

The attack: personalize and depersonalize in a loop leave one tombstone per cycle in the
caller's own profile (each login absorbs a fresh anonymous lead). Erasing that user deleted
them all and wrote three records per tombstone inside the erasure's unit; merging it repointed
them all inside the merge's. Both grew with what a caller can grow. Now the erasure's unit
writes a constant number of documents, a merge's none per tombstone, and reads follow the
extra hop until the move is done."""

from __future__ import annotations

from typing import Any

import pytest

from app.graphql.ids import encode_id
from app.store import purges
from app.store.client import Store
from app.store.errors import StoreUnreachable
from app.store.purges import PURGE_BATCH
from tests.commands import CommandLog
from tests.events.test_housekeeping import _merge, _user_id
from tests.helpers import Gateway, Tenant, purge_now
from tests.identity_ops import user_by

DELETE = "mutation($id: ID!) { deleteUser(by: {id: $id}) { deletedUserId userErrors { code } } }"


async def _tombstones(store: Store, tenant: Tenant, into: str, count: int, prefix: str) -> list[str]:
    """``count`` users merged into ``into`` long ago (tombstones as a merge leaves them)."""
    ids = [f"{prefix}-{n:04d}" for n in range(count)]
    await store.users.insert_many([{"_id": i, "appId": tenant.app_id, "mergedInto": into, "version": 1} for i in ids])
    return ids


def _writes_on_users(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [command for command in sent if command.get("update") == "users" or command.get("delete") == "users"]


def _redirect_writes(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements of the request that select users by ``mergedInto`` (a write over tombstones)."""
    statements = [
        statement
        for command in _writes_on_users(sent)
        for statement in command.get("updates", command.get("deletes", []))
    ]
    return [statement for statement in statements if "mergedInto" in statement["q"]]


def _global(raw_id: str) -> str:
    return encode_id("User", raw_id)


def _statements(sent: list[dict[str, Any]]) -> int:
    """Write statements sent: updates, deletes and inserted documents."""
    kinds = ("updates", "deletes", "documents")
    return sum(len(command.get(kind, [])) for command in sent for kind in kinds)


async def test_a_merge_repoints_the_sources_tombstones_after_its_unit(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    target = await _user_id(gateway, tenant, store, {"externalUserId": "ts-keeper"})
    source = await _user_id(gateway, tenant, store, {"emails": ["ts-lead@example.com"]})
    old = await _tombstones(store, tenant, source, PURGE_BATCH + 20, "ts-old")
    with command_log.capturing() as sent:
        await _merge(gateway, tenant, {"externalUserId": "ts-keeper"}, {"email": "ts-lead@example.com"})
    assert _redirect_writes(sent) == []  # none in the request
    # Before the move: an old id resolves through the source to the target (one more hop).
    found = await user_by(gateway, tenant, id=_global(old[-1]))
    assert found is not None and found["externalUserId"] == "ts-keeper"
    await purge_now(store)
    redirected = await store.users.count_documents({"appId": tenant.app_id, "mergedInto": target})
    assert redirected == len(old) + 1  # the old ones and the source
    assert await store.users.count_documents({"appId": tenant.app_id, "mergedInto": source}) == 0
    found = await user_by(gateway, tenant, id=_global(old[0]))
    assert found is not None and found["externalUserId"] == "ts-keeper"


async def test_erasing_a_user_writes_the_same_whatever_it_absorbed(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    async def erase(name: str, absorbed: int) -> tuple[int, list[str]]:
        user = await _user_id(gateway, tenant, store, {"externalUserId": name})
        old = await _tombstones(store, tenant, user, absorbed, f"{name}-old")
        with command_log.capturing() as sent:
            erased = await gateway.data(DELETE, {"id": _global(old[0])}, token=tenant.app_token)  # by an old id, too
        assert erased["deleteUser"]["userErrors"] == [], erased
        assert _redirect_writes(sent) == []
        return _statements(sent), old

    few, _ = await erase("erased-few", 2)
    many, old = await erase("erased-many", PURGE_BATCH + 50)
    assert many == few  # the unit's writes do not grow with the tombstones
    assert await user_by(gateway, tenant, id=_global(old[1])) is None  # a tombstone left meanwhile resolves to no one
    await purge_now(store)
    assert await store.users.count_documents({"_id": {"$in": old}}) == 0


async def test_erasing_a_user_erases_an_absorbed_users_tombstones_still_moving(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    keeper = await _user_id(gateway, tenant, store, {"externalUserId": "chain-keeper"})
    lead = await _user_id(gateway, tenant, store, {"emails": ["chain-lead@example.com"]})
    old = await _tombstones(store, tenant, lead, 5, "chain-old")
    await _merge(gateway, tenant, {"externalUserId": "chain-keeper"}, {"email": "chain-lead@example.com"})
    # The erasure comes before housekeeping ran: the lead's tombstones still point at the lead.
    erased = await gateway.data(DELETE, {"id": _global(keeper)}, token=tenant.app_token)
    assert erased["deleteUser"]["userErrors"] == []
    await purge_now(store)
    left = await store.users.count_documents({"_id": {"$in": [*old, lead, keeper]}})
    assert left == 0
    assert await store.history.count_documents({"appId": tenant.app_id, "userId": {"$in": [lead, keeper]}}) == 0


async def test_a_move_batch_that_fails_repoints_no_tombstone_and_the_next_round_finishes(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    from tests.domain.test_write_atomicity import Steps, hooked

    target = await _user_id(gateway, tenant, store, {"externalUserId": "flaky-keeper"})
    source = await _user_id(gateway, tenant, store, {"emails": ["flaky-lead@example.com"]})
    old = await _tombstones(store, tenant, source, 7, "flaky-old")
    await store.history.delete_many({"appId": tenant.app_id, "userId": source})  # only tombstones to move
    await _merge(gateway, tenant, {"externalUserId": "flaky-keeper"}, {"email": "flaky-lead@example.com"})
    moving = [move for move in await purges.due(store, 100) if move["owner"] == [tenant.app_id, source]]
    with hooked(Steps(fail_at=2)), pytest.raises(StoreUnreachable):  # the record touched; the repoint fails
        await purges.run_batch(store, moving[0])
    assert await store.users.count_documents({"_id": {"$in": old}, "mergedInto": source}) == len(old)
    assert await purges.run_batch(store, moving[0]) == (len(old), True)
    assert await store.users.count_documents({"_id": {"$in": old}, "mergedInto": target}) == len(old)
