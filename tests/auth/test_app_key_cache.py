"""The app key behind a token is read once per process and kept for `app_key_cache_seconds`:
a revocation is seen at once by the process that made it and within that delay by every
other; unknown key ids are remembered only briefly; the cache is bounded."""

from __future__ import annotations

import asyncio

import pytest
from starlette.datastructures import Headers

from app.auth import tokens
from app.auth.authenticate import authenticate
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.domain import definitions
from app.store.client import Store
from app.store.ttl_cache import MISSING, TtlCache
from tests.commands import CommandLog
from tests.helpers import FakeClock, Gateway, Tenant
from tests.identity_ops import register_anonymous

REVOKE = "mutation($a: ID!, $k: ID!) { revokeAppKey(appId: $a, keyId: $k) { userErrors { code } } }"
ME_APP = "query { users(first: 1) { nodes { id } } }"
DELAY = 0.5


def _replica(store: Store, seconds: float = DELAY) -> Store:
    """Another gateway process on the same database: its own Store, so its own cache."""
    other = Store(client=store.client, db=store.db, embedded_workarounds=store.embedded_workarounds)
    other.app_key_cache = TtlCache(seconds, 16)
    other.app_cache = TtlCache(seconds, 16)
    return other


def _bearer(token: str) -> Headers:
    return Headers({"authorization": f"Bearer {token}"})


async def test_a_key_revoked_elsewhere_is_refused_once_the_delay_has_passed(
    gateway: Gateway, tenant: Tenant, admin_token: str, store: Store, settings: Settings, box: SecretBox
) -> None:
    replica = _replica(store)
    headers = _bearer(tenant.app_token)
    assert (await authenticate(headers, settings, replica, box)).app_id == tenant.app_id
    revoked = await gateway.data(REVOKE, {"a": tenant.app_id, "k": tenant.key_id}, token=admin_token)
    assert revoked["revokeAppKey"]["userErrors"] == []
    # The gateway that revoked refuses at once; the replica may still accept within the delay.
    assert (await gateway.post(ME_APP, token=tenant.app_token)).status_code == 401
    await asyncio.sleep(DELAY + 0.1)
    with pytest.raises(InvalidToken, match="revoked"):
        await authenticate(headers, settings, replica, box)


@pytest.mark.parametrize(
    ("seconds", "reads"), [(0, 3), (60, 1)], ids=["without-the-cache-every-request-reads", "cached-read-once"]
)
async def test_a_repeated_request_reads_the_key_once_per_delay(
    tenant: Tenant, store: Store, settings: Settings, box: SecretBox, command_log: CommandLog, seconds: int, reads: int
) -> None:
    replica = _replica(store, seconds=seconds)
    with command_log.recording() as commands:
        for _ in range(3):
            await authenticate(_bearer(tenant.app_token), settings, replica, box)
    assert commands["find app_keys"] == reads


async def test_an_unknown_key_id_is_remembered_briefly(
    tenant: Tenant, store: Store, settings: Settings, box: SecretBox, command_log: CommandLog
) -> None:
    replica = _replica(store, seconds=60)
    forged = tokens.mint("x" * 48, {"scope": "app"}, key_id="key_unknown")
    with command_log.recording() as commands:
        for _ in range(3):
            with pytest.raises(InvalidToken):
                await authenticate(_bearer(forged), settings, replica, box)
    assert commands["find app_keys"] == 1


def _app_id(app_id: str) -> Headers:
    return Headers({"x-app-id": app_id})


async def test_a_repeated_x_app_id_request_does_not_read_the_app_again(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    await register_anonymous(gateway, tenant, "first-device")
    with command_log.recording() as commands:
        await register_anonymous(gateway, tenant, "second-device")
    assert commands["find apps"] == 0
    assert commands["insert installations"] == 1  # the request did run


async def test_x_app_id_reads_the_app_once_per_delay(
    tenant: Tenant, store: Store, settings: Settings, box: SecretBox, command_log: CommandLog
) -> None:
    cached, uncached = _replica(store, seconds=60), _replica(store, seconds=0)
    for replica, reads in ((cached, 1), (uncached, 3)):
        with command_log.recording() as commands:
            for _ in range(3):
                assert (await authenticate(_app_id(tenant.app_id), settings, replica, box)).app_id == tenant.app_id
        assert commands["find apps"] == reads


async def test_an_unknown_app_id_is_remembered_briefly(
    store: Store, settings: Settings, box: SecretBox, command_log: CommandLog
) -> None:
    replica = _replica(store, seconds=60)
    with command_log.recording() as commands:
        for _ in range(3):
            with pytest.raises(InvalidToken, match="unknown app"):
                await authenticate(_app_id("app_unknown"), settings, replica, box)
    assert commands["find apps"] == 1


def test_misses_expire_sooner_than_hits() -> None:
    clock = FakeClock(0.0)
    cache: TtlCache[str] = TtlCache(5.0, 8, negative_seconds=1.0, clock=clock)
    cache.put("known", "secret", cache.generation())
    cache.put("unknown", None, cache.generation())
    clock.now = 1.0
    assert cache.get("known") == "secret"
    assert cache.get("unknown") is MISSING
    clock.now = 5.0
    assert cache.get("known") is MISSING


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: TtlCache[str] = TtlCache(5.0, 2, clock=FakeClock())
    for key in ("a", "b"):
        cache.put(key, key, cache.generation())
    assert cache.get("a") == "a"
    cache.put("c", "c", cache.generation())
    assert len(cache) == 2
    assert cache.get("b") is MISSING
    assert cache.get("a") == "a"


def test_a_look_up_that_raced_a_revocation_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache(5.0, 8, clock=FakeClock())
    before = cache.generation()
    cache.forget("k")  # revoked while the look-up was in flight
    cache.put("k", "stale secret", before)
    assert cache.get("k") is MISSING


def test_zero_seconds_keeps_nothing() -> None:
    cache: TtlCache[str] = TtlCache(0, 8, clock=FakeClock())
    cache.put("k", "v", cache.generation())
    assert cache.get("k") is MISSING


STRICT = "mutation($s: Boolean!) { updateAttributeSettings(strict: $s) { settings { strict } userErrors { code } } }"


async def test_a_setting_changed_elsewhere_takes_effect_once_the_delay_has_passed(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    replica = _replica(store)
    replica.app_settings_cache = TtlCache(DELAY, 16)
    assert await definitions.is_strict(replica, tenant.app_id) is False
    changed = await gateway.data(STRICT, {"s": True}, token=tenant.app_token)
    assert changed["updateAttributeSettings"]["userErrors"] == []
    # In effect at once in the process that changed it; within the delay in the other.
    assert await definitions.is_strict(store, tenant.app_id) is True
    await asyncio.sleep(DELAY + 0.1)
    assert await definitions.is_strict(replica, tenant.app_id) is True
