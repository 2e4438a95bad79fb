"""The gateway's own hot path, in-process (no network, no second process): what each
optimisation saves per request, as alternating A/B rounds on one embedded store.

    python -m bench.hot_path [--requests 40] [--rounds 6]

Variants: the defaults; without the parse/validation caches; with the standard library's
json encoding responses instead of orjson (the gateway's encoder).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.auth import tokens
from app.config import Settings
from app.http.graphql_view import GraphQLView
from app.main import Runtime, create_app
from bench.read import SCENARIOS, seed_users


@contextlib.contextmanager
def standard_json_responses() -> Iterator[None]:
    adopted = GraphQLView.encode_json

    def encode(self: GraphQLView, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))

    GraphQLView.encode_json = encode  # type: ignore[method-assign]
    try:
        yield
    finally:
        GraphQLView.encode_json = adopted  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An in-process gateway and the URI of the store it uses."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        store_uri = runtime.store.embedded.uri if runtime.store.embedded is not None else settings.mongodb_uri
        assert store_uri is not None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, store_uri


async def run(args: argparse.Namespace) -> None:
    base = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-hot-")),
        embedded_engine="memory",
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
        master_key=SecretStr(Fernet.generate_key().decode()),
    )
    async with contextlib.AsyncExitStack() as stack:
        default, store_uri = await stack.enter_async_context(gateway(base))
        # The second gateway (caches off) reads the first one's embedded store.
        uncached = base.model_copy(update={"mongodb_uri": store_uri, "query_cache_size": 0})
        without_caches, _ = await stack.enter_async_context(gateway(uncached))
        assert base.admin_secret is not None
        token = await seed_users(default, "", tokens.mint(base.admin_secret.get_secret_value(), {"scope": "admin"}), 60)
        variants: dict[str, tuple[httpx.AsyncClient, Callable[[], contextlib.AbstractContextManager[Any]]]] = {
            "defaults": (default, contextlib.nullcontext),
            "no parse/validation caches": (without_caches, contextlib.nullcontext),
            "json responses": (default, standard_json_responses),
        }
        headers = {"authorization": f"Bearer {token}"}
        print(f"{'scenario':32} {'variant':28} {'ms/request':>10}")
        for scenario in SCENARIOS:
            body = {"query": scenario.query, "variables": scenario.variables}
            timings: dict[str, list[float]] = {name: [] for name in variants}
            for round_index in range(args.rounds):
                names = list(variants) if round_index % 2 == 0 else list(reversed(variants))
                for name in names:
                    client, context = variants[name]
                    with context():
                        for _ in range(3):
                            await client.post("/graphql", json=body, headers=headers)
                        started = time.perf_counter()
                        for _ in range(args.requests):
                            response = await client.post("/graphql", json=body, headers=headers)
                            assert response.status_code == 200 and "errors" not in response.json()
                        timings[name].append((time.perf_counter() - started) / args.requests * 1000)
            for name, values in timings.items():
                print(f"{scenario.name:32} {name:28} {statistics.median(values):10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="requests per variant and round")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds (median reported)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
