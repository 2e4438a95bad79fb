"""The embedded store's data directory: readable by its owner only.

The directory holds the SQLite files, the generated secrets and the store's Unix socket;
0700 on the directory keeps every other local user from reaching any of them, and the
files themselves are created 0600 in case the directory is ever loosened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included.
MAX_SOCKET_PATH_BYTES = 100


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` as 0700, or tighten an existing one (a data dir made by an older version)."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != DIRECTORY_MODE:
        log.warning("tightened the data directory's permissions", extra={"path": str(path), "was": oct(mode)})
        path.chmod(DIRECTORY_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if missing, else tighten it to 0600.

    SQLite gives its journal, WAL and shared-memory files the mode of the database file,
    so creating the database file first is enough for all of them.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
        path.chmod(FILE_MODE)
    return path


def socket_path_in(data_dir: Path, name: str = "store.sock") -> Path:
    """Where the store's socket goes: in the data dir, or in a fresh 0700 directory when that path is too long."""
    candidate = data_dir.resolve() / name
    if len(os.fsencode(candidate)) <= MAX_SOCKET_PATH_BYTES:
        return candidate
    return private_socket_path(name)


def private_socket_path(name: str = "store.sock") -> Path:
    """A socket path in a fresh directory of its own (mkdtemp creates it 0700)."""
    return Path(tempfile.mkdtemp(prefix="profile-gateway-")) / name


def remove_socket_dir(socket_path: Path, data_dir: Path) -> None:
    """Remove the directory made by ``private_socket_path`` once its socket is gone (never the data dir)."""
    if socket_path.parent != data_dir.resolve():
        with contextlib.suppress(OSError):
            socket_path.parent.rmdir()
