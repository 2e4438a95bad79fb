"""GraphiQL from the gateway itself: Strawberry's page, its CDN URLs pointed at the vendored
assets, which are read into memory once at start-up.

Serving them from memory is what keeps a running gateway whole while its package is
reinstalled: `pip install -e .` into the venv of a gateway started from `pip install .`
uninstalls the regular copy first, deleting site-packages/app/static under the running
process. The Python modules are already imported; files read per request would be gone.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CDN = "https://unpkg.com/"
STATIC_PREFIX = "/static/vendor/"
STATIC_ROOT = files("app") / "static"


def local_graphiql_html(page: str) -> str:
    """The same page with every asset served locally (the integrity hashes still hold)."""
    local = page.replace(CDN, STATIC_PREFIX)
    if "https://" in local.replace("https://github.com", ""):
        # A Strawberry upgrade that names other hosts must be vendored again, not half-offline.
        raise RuntimeError("the GraphiQL page loads assets from another host: vendor them")
    return local


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _walk(folder: Traversable, prefix: str) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found |= _walk(entry, f"{name}/")
        else:
            body = entry.read_bytes()
            media_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            found[name] = Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return found


_LOADED: dict[str, dict[str, Asset]] = {}


def load_assets(root: Traversable = STATIC_ROOT) -> dict[str, Asset]:
    """Every file under ``root`` by its relative path, read once per process."""
    key = str(root)
    if key not in _LOADED:
        _LOADED[key] = _walk(root, "")
    return _LOADED[key]


def static_route(root: Traversable = STATIC_ROOT) -> Route:
    """GET /static/<path> from memory: nothing on disk is read after this returns."""
    assets = load_assets(root)

    async def serve(request: Request) -> Response:
        asset = assets.get(request.path_params["path"])
        if asset is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        headers = {"etag": asset.etag, "cache-control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return Route("/static/{path:path}", serve, methods=["GET", "HEAD"], name="static")
