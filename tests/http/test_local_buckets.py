"""The in-memory token buckets behind the per-end-user limit."""

from __future__ import annotations

import pytest

from app.http.local_buckets import LocalBuckets
from tests.helpers import FakeClock


def test_a_key_spends_its_burst_then_waits_for_the_rate() -> None:
    clock = FakeClock()
    buckets = LocalBuckets(rate_per_second=2, burst=3, clock=clock)
    assert [buckets.acquire("user") for _ in range(3)] == [None, None, None]
    assert buckets.acquire("user") == pytest.approx(0.5)
    clock.now += 0.25
    assert buckets.acquire("user") == pytest.approx(0.25)  # a refusal spends nothing
    clock.now += 0.25
    assert buckets.acquire("user") is None
    assert buckets.acquire("another user") is None  # keys stay apart


def test_an_idle_key_refills_up_to_its_burst_only() -> None:
    clock = FakeClock()
    buckets = LocalBuckets(rate_per_second=1, burst=2, clock=clock)
    buckets.acquire("user")
    clock.now += 3600
    assert [buckets.acquire("user") for _ in range(3)] == [None, None, pytest.approx(1.0)]


def test_memory_is_bounded_by_the_least_recently_used_key() -> None:
    clock = FakeClock()
    buckets = LocalBuckets(rate_per_second=0.001, burst=1, clock=clock, max_keys=2)
    assert buckets.acquire("first") is None
    assert buckets.acquire("second") is None
    assert buckets.acquire("first") is not None  # used again: now the most recent
    assert buckets.acquire("third") is None
    assert len(buckets) == 2
    assert buckets.acquire("first") is not None  # kept; "second" went
    assert buckets.acquire("second") is None
