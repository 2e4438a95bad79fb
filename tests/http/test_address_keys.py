"""The key a per-address limit counts under (app/http/rate_limit.address_key)."""

from __future__ import annotations

import pytest

from app.http.rate_limit import address_key, client_address


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),  # however the address is written
        ("fe80::1%eth0", "fe80::/64"),  # a zone id names the interface, not the host
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client on a dual-stack socket
        ("testclient", "testclient"),  # not an address: counted as given
    ],
)
def test_each_client_counts_under_its_network(host: str, key: str) -> None:
    assert address_key(host) == key


def test_a_connection_without_a_client_address_has_no_key() -> None:
    assert client_address({"type": "http", "client": None}) is None
    assert client_address({"type": "http"}) is None
    assert client_address({"type": "http", "client": ("2001:db8::5", 443)}) == "2001:db8::/64"
