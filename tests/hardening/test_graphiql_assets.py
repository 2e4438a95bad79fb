"""GraphiQL's assets are served from memory: deleting the installed files (as reinstalling the
package into the running gateway's venv does) does not break a running gateway."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from starlette.applications import Starlette

from app.http.graphiql import STATIC_ROOT, static_route

GRAPHIQL_JS = "vendor/graphiql@3.8.3/graphiql.min.js"


async def test_assets_survive_their_files_being_deleted(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages" / "app" / "static"
    shutil.copytree(Path(str(STATIC_ROOT)), installed)
    expected = (installed / GRAPHIQL_JS).read_bytes()
    application = Starlette(routes=[static_route(installed)])

    shutil.rmtree(tmp_path / "site-packages")  # what pip's uninstall step does

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        served = await client.get(f"/static/{GRAPHIQL_JS}")
        assert served.status_code == 200
        assert served.content == expected
        assert served.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        again = await client.get(f"/static/{GRAPHIQL_JS}", headers={"if-none-match": served.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert (await client.get("/static/vendor/../../cli.py")).status_code == 404
        assert (await client.get("/static/vendor/missing.js")).status_code == 404
