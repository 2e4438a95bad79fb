"""Rate limits and persisted queries live in the store: every replica sees one of each."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from app.graphql.persisted import PersistedQueries, PersistedQueryError, sha256_hex
from app.http.rate_limit import RateLimiter
from app.store import persisted_queries, rate_limits
from app.store.client import Store
from tests.commands import CommandLog


def replicas(store: Store, count: int, rate: float = 0.01, burst: int = 3) -> list[RateLimiter]:
    """Limiters as N gateway processes would build them: same store, same limit name."""
    return [RateLimiter(store, "requests", rate, burst) for _ in range(count)]


async def test_replicas_share_one_bucket_per_key(store: Store, command_log: CommandLog) -> None:
    first, second, third = replicas(store, 3)
    key = f"app_{secrets.token_hex(4)}"
    with command_log.recording() as sent:
        allowed = [await limiter.acquire(key) for limiter in (first, second, third)]
    assert allowed == [None, None, None]
    assert sent == {"findAndModify rate_limits": 3}  # one round trip per check
    # The burst of 3 is spent between the three: the next take anywhere is refused.
    wait = await second.acquire(key)
    assert wait is not None and 0 < wait <= 1 / 0.01
    assert await first.acquire(f"other_{key}") is None  # another key has its own bucket


async def test_tokens_come_back_at_the_rate(store: Store) -> None:
    (limiter,) = replicas(store, 1, rate=20.0, burst=1)
    key = f"app_{secrets.token_hex(4)}"
    assert await limiter.acquire(key) is None
    wait = await limiter.acquire(key)
    assert wait is not None and wait <= 1 / 20.0
    # Refused here without a round trip until the token is due; then it is taken. Poll
    # rather than sleep a fixed time: a loaded machine only makes it slower.
    for _ in range(100):
        if await limiter.acquire(key) is None:
            return
        await asyncio.sleep(0.01)
    pytest.fail("no token came back")


async def test_blocked_answers_from_memory_once_this_process_saw_the_bucket_empty(
    store: Store, command_log: CommandLog
) -> None:
    here, there = [RateLimiter(store, "auth-failures", 1 / 60, 2) for _ in range(2)]
    address = f"192.0.2.{secrets.randbelow(250)}-{secrets.token_hex(2)}"
    await there.acquire(address)
    await there.acquire(address)
    with command_log.recording() as sent:
        assert there.blocked(address) is not None
        assert here.blocked(address) is None  # not seen here yet
    assert sum(sent.values()) == 0
    await here.acquire(address)  # its first failure here learns the shared state
    assert here.blocked(address) is not None


async def test_a_query_registered_on_one_replica_runs_by_hash_on_another(store: Store, command_log: CommandLog) -> None:
    text = f"query Shared{secrets.token_hex(4)} {{ __typename }}"
    digest = sha256_hex(text)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    first, second = [PersistedQueries(enabled=True, cache_size=10, store=store) for _ in range(2)]
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        await second.resolve(None, extensions)
    assert await first.resolve(text, extensions) == (text, digest)
    await first.register(digest, text)
    with command_log.recording() as sent:
        assert await second.resolve(None, extensions) == (text, None)
        assert await second.resolve(None, extensions) == (text, None)  # now from its own cache
    assert sent == {"findAndModify persisted_queries": 1}


async def test_a_stored_text_that_does_not_hash_to_its_key_is_not_run(store: Store) -> None:
    digest = sha256_hex(f"query Real{secrets.token_hex(4)} {{ __typename }}")
    await persisted_queries.save(
        store, digest, "mutation { deleteEverything }", PersistedQueries(enabled=True, cache_size=1).ttl
    )
    registry = PersistedQueries(enabled=True, cache_size=10, store=store)
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        await registry.resolve(None, {"persistedQuery": {"version": 1, "sha256Hash": digest}})


async def test_replicas_taking_tokens_ahead_never_spend_more_than_the_bucket(
    store: Store, command_log: CommandLog
) -> None:
    """Three busy replicas, each taking up to 10 tokens at once, 30 waves of 10 concurrent
    requests for one app: together they allow at most the burst, and pay for the requests
    they allow with fewer round trips than requests."""
    burst = 150
    limiters = [RateLimiter(store, "requests", 0.01, burst, lease=10) for _ in range(3)]
    key = f"app_{secrets.token_hex(4)}"

    async def request(index: int) -> bool:
        return await limiters[index % 3].acquire(key) is None

    allowed: list[bool] = []
    with command_log.recording() as sent:
        for wave in range(30):
            allowed += await asyncio.gather(*(request(wave * 10 + index) for index in range(10)))
    assert 100 <= sum(allowed) <= burst
    assert sent["findAndModify rate_limits"] < sum(allowed) / 2
    # Once this burst is spent, every replica refuses; none allows more later.
    assert [await limiter.acquire(key) is None for limiter in limiters] == [False, False, False]


async def test_an_app_over_its_limit_is_refused_without_a_round_trip(store: Store, command_log: CommandLog) -> None:
    """A client hammering past its limit must not cost the store a write per request."""
    (limiter,) = replicas(store, 1, burst=2)
    key = f"app_{secrets.token_hex(4)}"
    assert [await limiter.acquire(key) is None for _ in range(2)] == [True, True]
    with command_log.recording() as sent:
        waits = await asyncio.gather(*(limiter.acquire(key) for _ in range(200)))
    assert all(wait is not None and wait > 0 for wait in waits)
    assert sum(sent.values()) == 0


async def test_a_burst_of_concurrent_requests_draws_what_it_spends(store: Store, command_log: CommandLog) -> None:
    """40 requests at once from a busy app: one take in flight per process, the others spend
    what it brings. Each taking a lease of its own would drain a bucket of 60 with 40
    requests and refuse some of them while their tokens sat unspent."""
    limiter = RateLimiter(store, "requests", 0.01, 60, lease=10)
    key = f"app_{secrets.token_hex(4)}"
    with command_log.recording() as sent:
        waits = await asyncio.gather(*(limiter.acquire(key) for _ in range(40)))
    assert waits == [None] * 40
    assert sent["findAndModify rate_limits"] < 40
    took = await rate_limits.take(store, "requests", key, 0.01, 60, count=60)
    assert took.granted >= 60 - 40 - 9  # at most one lease's worth taken and not yet spent
