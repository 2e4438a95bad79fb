"""A load generator for CPU measurements that costs the machine as little as it can.

On a host with two virtual CPUs the client shares the cores with the server it measures, and
what the client does between two requests changes the server's CPU per request (an idle spell
leaves the server's caches and the CPU's state cold; bench/README.md, "CPU per request depends
on the gaps between requests"). httpx spends about 1 ms of CPU per request here, more than the
server under test. This client writes requests encoded ahead of time on one HTTP/1.1 keep-alive
connection and reads each answer by its Content-Length: about 0.1 ms per request,
so the server's figure is closer to what it is when its clients are on other machines.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


def encode_post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One POST of ``body`` to ``path``, ready to be written to a connection."""
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class KeepAliveClient:
    """One keep-alive connection, one request at a time."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, port: int) -> KeepAliveClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write an encoded request and read its answer: (status, body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        if b"content-length" not in headers:  # every server measured here answers with one
            raise ValueError(f"an answer without Content-Length: {head!r}")
        return status, await self.reader.readexactly(int(headers[b"content-length"]))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
