"""Which URLs a webhook may point at: https to public addresses, unless settings say more.

The host is resolved and every address it resolves to is checked, so a name that points at
a private network (or at the gateway's own host) is refused like the literal address. The
dispatcher checks again before each delivery, since DNS answers can change after creation.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from app.domain.errors import DomainError, ErrorCode

MAX_URL_LENGTH = 2_000
_LOCAL_NAMES = ("localhost", "localhost.")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlPolicy:
    def __init__(self, allow_http_localhost: bool, allowed_networks: Sequence[str]) -> None:
        self.allow_http_localhost = allow_http_localhost
        self.allowed = [ipaddress.ip_network(network, strict=False) for network in allowed_networks]

    def _address_allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed):
            return True
        if address.is_loopback:
            return self.allow_http_localhost
        return address.is_global

    async def check(self, url: str, field: Sequence[str] = ("url",)) -> str:
        """``url`` if a webhook may call it, else a DomainError naming ``field``."""

        def refuse(why: str) -> DomainError:
            return DomainError(ErrorCode.INVALID_INPUT, why, field)

        if len(url) > MAX_URL_LENGTH:
            raise refuse(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise refuse("not a valid URL") from None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise refuse("the URL must be https://host/…")
        if parts.username or parts.password:
            raise refuse("the URL must not carry credentials")
        local = host in _LOCAL_NAMES or _is_loopback_literal(host)
        if parts.scheme == "http" and not (local and self.allow_http_localhost):
            raise refuse("the URL must use https (http only to localhost, when the development setting allows it)")
        for address in await _resolve(host, port or (443 if parts.scheme == "https" else 80)):
            if not self._address_allowed(address):
                raise refuse("the URL points at a private or reserved network address")
        return url


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DomainError(ErrorCode.INVALID_INPUT, "the URL's host does not resolve", ("url",)) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise DomainError(ErrorCode.INVALID_INPUT, "the URL's host does not resolve", ("url",))
    return addresses
