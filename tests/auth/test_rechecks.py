"""Credential re-checks shared by a process's connections (app/auth/rechecks.py)."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import PyMongoError

from app.auth.rechecks import CredentialRechecks
from app.config import Settings
from app.crypto import SecretBox
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant, unreachable_store
from tests.identity_ops import register_anonymous


async def test_one_read_per_credential_per_interval(
    gateway: Gateway, tenant: Tenant, settings: Settings, store: Store, box: SecretBox, command_log: CommandLog
) -> None:
    _, token = await register_anonymous(gateway, tenant, "recheck-1")
    _, other = await register_anonymous(gateway, tenant, "recheck-2")
    rechecks = CredentialRechecks(settings, store, box, interval=60.0)
    with command_log.recording() as sent:
        answers = await asyncio.gather(*(rechecks.still_valid({"x-session-token": token}) for _ in range(5)))
        answers.append(await rechecks.still_valid({"x-session-token": token}))  # later, in the interval
        answers.append(await rechecks.still_valid({"x-session-token": other}))
    assert answers == [True] * 7
    assert sent["find sessions"] == 2, sent  # one per credential
    assert not await rechecks.still_valid({"x-session-token": "not-a-session"})


async def test_a_failed_read_is_not_kept(tenant: Tenant, settings: Settings, box: SecretBox) -> None:
    async with unreachable_store() as unreachable:
        rechecks = CredentialRechecks(settings, unreachable, box, interval=60.0)
        for _ in range(2):  # the second call reads again rather than answering the first's failure
            with pytest.raises(PyMongoError):
                await rechecks.still_valid({"x-session-token": "some-session"})
        assert len(rechecks._checks) == 0
