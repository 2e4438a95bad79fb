"""GraphiQL from the gateway itself: Strawberry's page, its CDN URLs pointed at app/static."""

from __future__ import annotations

from pathlib import Path

CDN = "https://unpkg.com/"
STATIC_PREFIX = "/static/vendor/"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def local_graphiql_html(page: str) -> str:
    """The same page with every asset served locally (the integrity hashes still hold)."""
    local = page.replace(CDN, STATIC_PREFIX)
    if "https://" in local.replace("https://github.com", ""):
        # A Strawberry upgrade that names other hosts must be vendored again, not half-offline.
        raise RuntimeError("the GraphiQL page loads assets from another host: vendor them")
    return local
