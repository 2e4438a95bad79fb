"""Where a running ``profile-gateway store`` process can be reached, for the gateways that share it.

The store writes its connection string into ``<data dir>/store.uri`` (0600, inside the
0700 data directory) while it runs; a gateway started on the same data directory without
MONGODB_URI finds it there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.store.embedded_socket import is_served
from app.store.private_dir import FILE_MODE

ADDRESS_FILE = "store.uri"


def write_address(data_dir: Path, uri: str) -> Path:
    path = data_dir / ADDRESS_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(uri + "\n")
    return path


def remove_address(data_dir: Path) -> None:
    (data_dir / ADDRESS_FILE).unlink(missing_ok=True)


def running_store_uri(data_dir: Path) -> str | None:
    """The URI of a store process serving ``data_dir``, or None when none is running."""
    with contextlib.suppress(FileNotFoundError):
        uri = (data_dir / ADDRESS_FILE).read_text().strip()
        socket_path = Path(unquote(urlsplit(uri).netloc))
        if is_served(socket_path):
            return uri
    return None
