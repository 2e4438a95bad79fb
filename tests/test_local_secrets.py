"""The embedded default generates its secrets once and reuses them on every start."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from app.config import Settings
from app.crypto import SecretBox
from app.local_secrets import ensure_local_secrets


def test_generated_once_then_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mongodb_uri=None, admin_secret=None, master_key=None)
    first = ensure_local_secrets(settings)
    assert first.generated and first.path == tmp_path / "data" / "secrets.json"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    second = ensure_local_secrets(settings)
    assert not second.generated
    assert first.settings.admin_secret == second.settings.admin_secret
    assert first.settings.master_key == second.settings.master_key
    assert first.settings.master_key is not None
    SecretBox(first.settings.master_key.get_secret_value())  # a usable Fernet key
    assert first.settings.admin_secret is not None
    assert len(first.settings.admin_secret.get_secret_value()) >= 32


def test_configured_secrets_win(tmp_path: Path) -> None:
    given = SecretStr("g" * 40)
    settings = Settings(data_dir=tmp_path, mongodb_uri=None, admin_secret=given, master_key=None)
    local = ensure_local_secrets(settings)
    assert local.settings.admin_secret == given and local.settings.master_key is not None
