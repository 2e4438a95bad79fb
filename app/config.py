"""Typed settings read from the environment (prefix ``PROFILE_GATEWAY_``, plus ``MONGODB_URI``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the gateway can be configured with. See the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="PROFILE_GATEWAY_", extra="ignore")

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
    max_query_tokens: int = Field(default=2_000, ge=10)
    max_query_aliases: int = Field(default=15, ge=0)
    max_query_cost: int = Field(default=10_000, ge=1)
    field_suggestions: bool | None = None  # None: on in development, off in production
    max_batch_operations: int = Field(default=0, ge=0)  # 0: batching off
    query_cache_size: int = Field(default=256, ge=0)  # parsed + validated documents; 0: off
    persisted_queries: bool = True  # automatic persisted queries (Apollo protocol)
    persisted_queries_cache_size: int = Field(default=1_000, ge=1)
    persisted_queries_only: bool = False  # accept only the operations of the manifest
    persisted_queries_manifest: Path | None = None
    embedded_port: int = Field(default=0, ge=0, le=65_535)  # 0: any free port
    graphiql: bool = True

    @property
    def suggestions_enabled(self) -> bool:
        if self.field_suggestions is not None:
            return self.field_suggestions
        return self.environment != "production"

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
        if self.persisted_queries_only and self.persisted_queries_manifest is None:
            raise ValueError(
                "PROFILE_GATEWAY_PERSISTED_QUERIES_ONLY needs "
                "PROFILE_GATEWAY_PERSISTED_QUERIES_MANIFEST"
            )
        if self.admin_secret is not None and len(self.admin_secret.get_secret_value()) < 32:
            raise ValueError("PROFILE_GATEWAY_ADMIN_SECRET must be at least 32 characters")
        return self
