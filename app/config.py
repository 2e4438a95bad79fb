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

    # Production operations (README, "Running in production"). In production GraphiQL and
    # introspection are off unless set explicitly.
    introspection: bool = True
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1_024)
    rate_limit_per_second: float = Field(default=50.0, ge=0)  # per app; 0 turns the limit off
    rate_limit_burst: int = Field(default=100, ge=1)
    # Failed authentications per client address (ASGI `client` host); 0 turns the limit off.
    auth_failure_limit_per_minute: int = Field(default=60, ge=0)
    auth_failure_burst: int = Field(default=20, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    metrics: bool = True
    log_format: Literal["json", "text"] = "json"
    shutdown_grace_seconds: int = Field(default=10, ge=0)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Change events: the outbox keeps them this long (changeEvents, redelivery).
    change_event_retention_days: int = Field(default=7, ge=1)
    # Webhook delivery. The dispatcher runs in the gateway unless turned off here (then run
    # `profile-gateway deliver` as its own process).
    webhook_dispatcher: bool = True
    webhook_poll_ms: int = Field(default=200, ge=10)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds to wait before each retry (jittered); the delivery fails after the last one.
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    # An endpoint is disabled after this many failed attempts in a row with no success.
    webhook_disable_after_failures: int = Field(default=50, ge=1)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_secret_grace_hours: int = Field(default=24, ge=0)
    webhook_max_endpoints: int = Field(default=20, ge=1)
    # Development only: http:// URLs to localhost / loopback addresses.
    webhook_allow_http_localhost: bool = False
    # Private-network targets (CIDRs) webhooks may reach; all others are refused.
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    # Live subscriptions (graphql-transport-ws).
    subscription_max_connections_per_app: int = Field(default=100, ge=1)
    subscription_max_per_connection: int = Field(default=10, ge=1)
    subscription_poll_ms: int = Field(default=250, ge=10)

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
    def _explorers_off_in_production(self) -> Settings:
        if self.environment == "production":
            for name in ("graphiql", "introspection"):
                if name not in self.model_fields_set:
                    setattr(self, name, False)
        return self

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
            raise ValueError("PROFILE_GATEWAY_PERSISTED_QUERIES_ONLY needs PROFILE_GATEWAY_PERSISTED_QUERIES_MANIFEST")
        if self.admin_secret is not None and len(self.admin_secret.get_secret_value()) < 32:
            raise ValueError("PROFILE_GATEWAY_ADMIN_SECRET must be at least 32 characters")
        return self
