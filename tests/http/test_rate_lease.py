"""Tokens taken ahead: sized to the process's own traffic, spent within a second, then lost."""

from __future__ import annotations

from app.http.rate_lease import LEASE_SECONDS, Leases
from tests.helpers import FakeClock


def test_a_quiet_key_takes_one_token_at_a_time() -> None:
    leases = Leases(10, FakeClock())
    for _ in range(7):
        leases.count("app")
        assert leases.spend("app") is False
        assert leases.size("app") == 1


def test_a_busy_key_takes_a_quarter_second_of_its_traffic_up_to_the_most() -> None:
    clock = FakeClock()
    leases = Leases(10, clock)
    for _ in range(20):
        leases.count("app")
    assert leases.size("app") == 5
    for _ in range(100):
        leases.count("app")
    assert leases.size("app") == 10
    clock.now += 1.5  # the busy second is now the one before
    leases.count("app")
    assert leases.size("app") == 10
    clock.now += 2.0  # nothing for a whole second: quiet again
    leases.count("app")
    assert leases.size("app") == 1


def test_tokens_kept_are_spent_one_per_request_then_asked_for_again() -> None:
    leases = Leases(10, FakeClock())
    leases.keep("app", 3)
    assert [leases.spend("app") for _ in range(4)] == [True, True, True, False]
    assert leases.spend("other") is False  # each key its own


def test_tokens_unspent_after_the_lease_are_lost() -> None:
    clock = FakeClock()
    leases = Leases(10, clock)
    leases.keep("app", 5)
    assert leases.spend("app") is True
    clock.now += LEASE_SECONDS
    assert leases.spend("app") is False
    assert leases.spend("app") is False  # lost, not kept for later


def test_memory_is_bounded_by_the_number_of_keys() -> None:
    leases = Leases(10, FakeClock(), max_keys=3)
    for key in ("a", "b", "c", "d"):
        leases.keep(key, 2)
    assert leases.spend("a") is False  # the least recently seen went first
    assert leases.spend("d") is True
    for n in range(50):
        leases.count(f"k{n}")
    assert len(leases) == 3


def test_tokens_of_concurrent_takes_add_up() -> None:
    leases = Leases(10, FakeClock())
    leases.keep("app", 2)
    leases.keep("app", 3)
    assert sum(leases.spend("app") for _ in range(6)) == 5
