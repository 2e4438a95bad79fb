"""Typed settings read from the environment (prefix ``PROFILE_GATEWAY_``, plus ``MONGODB_URI``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the gateway can be configured with. See the README's configuration table."""

    # An empty variable counts as unset (compose passes unset ones through as empty strings).
    # Validation errors never echo the input: it holds the secrets and the MongoDB URI.
    model_config = SettingsConfigDict(
        env_prefix="PROFILE_GATEWAY_", extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = "development"
    mongodb_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MONGODB_URI", "PROFILE_GATEWAY_MONGODB_URI")
    )
    database_name: str = "profile_gateway"
    data_dir: Path = Path("data")
    embedded_engine: Literal["sqlite", "memory"] = "sqlite"

    admin_secret: SecretStr | None = None
    master_key: SecretStr | None = None

    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)

    store_timeout_ms: int = Field(default=5_000, ge=100)

    max_query_depth: int = Field(default=8, ge=1)
    graphiql: bool = True

    @property
    def embedded(self) -> bool:
        """True when no external MongoDB is configured and the embedded server is used."""
        return self.mongodb_uri is None

    @model_validator(mode="after")
    def _secrets_required_outside_embedded(self) -> Settings:
        # The embedded store generates its secrets into the data dir; against a real
        # MongoDB a generated secret would differ between replicas, so fail fast instead.
        if not self.embedded:
            missing = [
                name
                for name, value in (
                    ("PROFILE_GATEWAY_ADMIN_SECRET", self.admin_secret),
                    ("PROFILE_GATEWAY_MASTER_KEY", self.master_key),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set when MONGODB_URI is set")
        if self.admin_secret is not None and len(self.admin_secret.get_secret_value()) < 32:
            raise ValueError("PROFILE_GATEWAY_ADMIN_SECRET must be at least 32 characters")
        return self
