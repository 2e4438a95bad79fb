"""Settings fail fast on what a real deployment must provide."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings

ADMIN_SECRET = "a" * 32


def test_embedded_needs_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MONGODB_URI", "PROFILE_GATEWAY_ADMIN_SECRET", "PROFILE_GATEWAY_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.embedded and settings.admin_secret is None


def test_mongodb_needs_both_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://db:27017/?replicaSet=rs0")
    monkeypatch.delenv("PROFILE_GATEWAY_MASTER_KEY", raising=False)
    monkeypatch.setenv("PROFILE_GATEWAY_ADMIN_SECRET", ADMIN_SECRET)
    with pytest.raises(ValidationError, match="PROFILE_GATEWAY_MASTER_KEY"):
        Settings()
    # An empty variable (what compose passes for an unset one) is missing too.
    monkeypatch.setenv("PROFILE_GATEWAY_MASTER_KEY", "")
    with pytest.raises(ValidationError, match="PROFILE_GATEWAY_MASTER_KEY must be set"):
        Settings()
    monkeypatch.setenv("PROFILE_GATEWAY_MASTER_KEY", Fernet.generate_key().decode())
    settings = Settings()
    assert not settings.embedded and settings.mongodb_uri == "mongodb://db:27017/?replicaSet=rs0"


def test_short_admin_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.setenv("PROFILE_GATEWAY_ADMIN_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings()


def test_errors_do_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cret-" + "x" * 40
    monkeypatch.setenv("MONGODB_URI", "mongodb://gateway:db-password@db:27017/")
    monkeypatch.setenv("PROFILE_GATEWAY_ADMIN_SECRET", secret)
    monkeypatch.delenv("PROFILE_GATEWAY_MASTER_KEY", raising=False)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "MASTER_KEY" in str(raised.value)
    assert "x" * 10 not in str(raised.value) and "db-password" not in str(raised.value)


def test_webhooks_to_http_localhost_are_for_development_unless_set() -> None:
    # A receiver on a developer's laptop is http://localhost; in production only https leaves.
    assert Settings().webhooks_to_http_localhost
    production = Settings(
        environment="production", admin_secret=ADMIN_SECRET, master_key=Fernet.generate_key().decode()
    )
    assert not production.webhooks_to_http_localhost
    assert not Settings(webhook_allow_http_localhost=False).webhooks_to_http_localhost
