"""graphql-http's own audit of the GraphQL-over-HTTP spec, run against a real gateway.

The audit is an npm package (pinned below), installed on first use into a cache outside the
repository; the test is skipped where Node.js is not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from tests.helpers import Tenant

GRAPHQL_HTTP_VERSION = "1.23.1"
GRAPHQL_VERSION = "16.11.0"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="needs Node.js (node and npm on PATH) to run graphql-http's audit"
)

# Every audit request carries the app's token: the gateway answers 401 to anonymous operations.
AUDIT_SCRIPT = """
const { auditServer } = require('graphql-http');
const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
auditServer({ url, fetchFn }).then((results) => {
  process.stdout.write(JSON.stringify(results.map(({ id, name, status, reason }) => ({ id, name, status, reason }))));
});
"""


def audit_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "profile-gateway" / f"graphql-http-{GRAPHQL_HTTP_VERSION}"


async def installed_audit() -> Path:
    """The cache directory with the pinned graphql-http installed (npm runs only once)."""
    cache = audit_cache()
    if not (cache / "node_modules" / "graphql-http" / "package.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        assert NPM is not None
        npm = await asyncio.create_subprocess_exec(
            NPM,
            "install",
            "--prefix",
            str(cache),
            "--no-audit",
            "--no-fund",
            "--no-save",
            f"graphql-http@{GRAPHQL_HTTP_VERSION}",
            f"graphql@{GRAPHQL_VERSION}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await npm.communicate()
        if npm.returncode != 0:
            pytest.fail(f"npm could not install graphql-http {GRAPHQL_HTTP_VERSION}: {output.decode()[-2000:]}")
    (cache / "audit.js").write_text(AUDIT_SCRIPT)
    return cache


@pytest.fixture
async def served(app: Starlette) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await task
    sock.close()


async def test_graphql_http_audit_passes_without_warnings(served: str, tenant: Tenant) -> None:
    cache = await installed_audit()
    assert NODE is not None
    node = await asyncio.create_subprocess_exec(
        NODE,
        str(cache / "audit.js"),
        served,
        tenant.app_token,
        cwd=cache,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        output, errors = await node.communicate()
    assert node.returncode == 0, errors.decode()
    results = json.loads(output)
    assert len(results) > 40  # the whole audit ran
    failed = [f"{r['status']} {r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    assert failed == [], "\n".join(failed)
