"""Secrets for the embedded store: generated once into the data dir, reused on every start."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.config import Settings
from app.store.private_dir import FILE_MODE, ensure_private_dir

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True, slots=True)
class LocalSecrets:
    settings: Settings
    generated: bool  # True when this call wrote new secrets (the CLI says so)
    path: Path


def ensure_local_secrets(settings: Settings) -> LocalSecrets:
    """Fill in missing admin secret and master key from ``<data_dir>/secrets.json``.

    Only for the embedded store: with MONGODB_URI, Settings already refused to start
    without both secrets.
    """
    path = settings.data_dir / SECRETS_FILE
    if settings.admin_secret is not None and settings.master_key is not None:
        return LocalSecrets(settings, generated=False, path=path)
    generated = False
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        ensure_private_dir(settings.data_dir)
        stored = {
            "admin_secret": secrets.token_urlsafe(48),
            "master_key": Fernet.generate_key().decode(),
        }
        # Created with owner-only permissions before anything is written into it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
        generated = True
    updated = settings.model_copy(
        update={
            "admin_secret": settings.admin_secret or SecretStr(stored["admin_secret"]),
            "master_key": settings.master_key or SecretStr(stored["master_key"]),
        }
    )
    return LocalSecrets(updated, generated=generated, path=path)
