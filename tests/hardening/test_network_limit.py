"""One IPv6 site cannot register past its network's limit by spreading over its /64s.

The attack: requests with only X-App-Id are limited per client address, and an IPv6 client's
address is its /64. A site (or a hosting customer) usually holds a /48: 65,536 /64s, each a
fresh address bucket. Registering from each in turn, one attacker drained the app's
registrations bucket, and every real device's first install got 429 while the flood lasted.
Now each request with only X-App-Id from an IPv6 client also spends a bucket of its /48 and app.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.http.rate_limit import network_key
from tests.hardening.test_end_user_limits import _register, _started, _tenant, from_address

NETWORK_BURST = 3
ANONYMOUS_BURST = 2  # per /64 (or IPv4 address)
APP_BURST = 30  # the app's registrations bucket: not what refuses here


@pytest.fixture(scope="module")
async def limited(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Starlette]:
    limits = {
        "rate_limit_burst": APP_BURST,
        "anonymous_limit_per_minute": 1,
        "anonymous_burst": ANONYMOUS_BURST,
        "anonymous_network_limit_per_minute": 1,
        "anonymous_network_burst": NETWORK_BURST,
    }
    async with _started(settings, tmp_path_factory.mktemp("networks"), **limits) as application:
        yield application


@pytest.mark.parametrize(
    ("host", "network"),
    [
        ("2001:db8:aa:1::1", "2001:db8:aa::/48"),
        ("2001:db8:aa:ffff:1:2:3:4", "2001:db8:aa::/48"),
        ("fe80::1%eth0", "fe80::/48"),  # a zone id is not part of the network
        ("10.1.2.3", None),
        ("::ffff:10.1.2.3", None),
        ("unix-socket", None),
    ],
)
def test_ipv6_clients_belong_to_their_48(host: str, network: str | None) -> None:
    assert network_key(host) == network


async def test_one_ipv6_site_cannot_register_past_its_networks_limit(limited: Starlette, admin_token: str) -> None:
    tenant = await _tenant(limited, admin_token)

    async def register_from(address: str) -> tuple[int, str]:
        async with from_address(limited, address) as device:
            answer = await _register(device, tenant, f"site-{address}")
        return answer.status_code, answer.text

    # A new /64 of one /48 for each registration, all at once: every address bucket is full.
    answers = await asyncio.gather(*(register_from(f"2001:db8:cc:{n + 1:x}::1") for n in range(12)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * NETWORK_BURST + [429] * (12 - NETWORK_BURST)
    refused = next(text for status, text in answers if status == 429)
    assert "without credentials from this network" in refused
    # Another /48, and IPv4 clients, are not that network.
    assert (await register_from("2001:db8:cd:1::1"))[0] == 200
    assert [(await register_from(f"10.8.0.{n}"))[0] for n in range(1, 4)] == [200, 200, 200]

    async with from_address(limited, "10.9.0.1") as client:
        metrics = (await client.get("/metrics")).text
    counted = re.search(r'^profile_gateway_rate_limited_total\{limit="network"\} ([0-9.]+)$', metrics, re.MULTILINE)
    assert counted is not None and float(counted.group(1)) >= 12 - NETWORK_BURST, metrics
