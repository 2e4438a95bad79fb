"""Typed settings read from the environment (prefix ``PROFILE_GATEWAY_``, plus ``MONGODB_URI``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the gateway can be configured with. docs/operations/configuration.md is generated
    from these fields (`profile-gateway export-docs`): every field needs a description."""

    # An empty variable counts as unset (compose passes unset ones through as empty strings).
    # Validation errors never echo the input: it holds the secrets and the MongoDB URI.
    model_config = SettingsConfigDict(
        env_prefix="PROFILE_GATEWAY_", extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = Field(
        default="development",
        description=(
            "`development` or `production`. `production` turns GraphiQL, introspection and field "
            "suggestions off unless set explicitly, and adds HSTS."
        ),
    )
    mongodb_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MONGODB_URI", "PROFILE_GATEWAY_MONGODB_URI"),
        description=(
            "A MongoDB connection string (also read as plain `MONGODB_URI`). Unset: the embedded store."
            " Transactions need a replica set or a sharded cluster."
        ),
    )
    database_name: str = Field(default="profile_gateway", description="Database that holds the gateway's collections.")
    data_dir: Path = Field(
        default=Path("data"),
        description=(
            "Embedded store only: where the SQLite file and the generated `secrets.json` live (`serve "
            "--data-dir` overrides it)."
        ),
    )
    embedded_engine: Literal["sqlite", "memory"] = Field(
        default="sqlite",
        description="Embedded store only: `sqlite` (a file, kept across restarts) or `memory` (gone on exit).",
    )

    admin_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs admin tokens; at least 32 characters. Generated into `secrets.json` on the embedded "
            "store; required with MongoDB."
        ),
    )
    master_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key that encrypts app key secrets and channel secrets at rest. Several, comma-"
            "separated: the first encrypts, all decrypt (rotation). Generated on the embedded store; "
            "required with MongoDB."
        ),
    )

    jwt_audience: str | None = Field(
        default=None, description="When set, tokens must carry this `aud` (the CLI adds it)."
    )
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="Clock skew allowed on `exp`/`nbf`, in seconds (0 to 300)."
    )
    app_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description=(
            "How long a process keeps an app key it read, the existence of an app named by X-App-Id, "
            "an app's settings and its attribute definitions (0 to 300; 0: read them on every request). "
            "A key revoked, a setting changed or an attribute defined through another process takes effect "
            "in this one within this delay (at once in the "
            "process that made the change); unknown key ids and app ids are remembered for at most 1 s."
        ),
    )
    app_key_cache_size: int = Field(
        default=1_024,
        ge=1,
        description="App keys (and app ids, apart) kept per process (least recently used first out).",
    )

    store_timeout_ms: int = Field(
        default=5_000,
        ge=100,
        description=(
            "Server selection and connect timeout towards the store (at least 100); the socket timeout "
            "is twice that, at least 10 s. With the store down, requests fail after this, never hang."
        ),
    )

    max_query_depth: int = Field(default=8, ge=1, description="Deeper operations are refused before they run.")
    max_query_tokens: int = Field(default=2_000, ge=10, description="Longer documents are refused while parsing.")
    max_query_aliases: int = Field(default=15, ge=0, description="More aliases in one operation are refused.")
    max_query_cost: int = Field(
        default=10_000, ge=1, description="Most objects an operation may return (`QUERY_TOO_COSTLY`)."
    )
    field_suggestions: bool | None = Field(
        default=None,
        description=(
            '"Did you mean …" hints in validation messages (they reveal the schema). Unset: on in '
            "development, off in production."
        ),
    )
    max_batch_operations: int = Field(
        default=0, ge=0, description="Operations allowed in one JSON-array (batched) request; 0 turns batching off."
    )
    query_cache_size: int = Field(
        default=256, ge=0, description="Parsed and validated documents kept per process; 0 turns both caches off."
    )
    persisted_queries: bool = Field(default=True, description="Automatic persisted queries (Apollo protocol).")
    persisted_queries_cache_size: int = Field(
        default=1_000, ge=1, description="Registered persisted queries kept per process (LRU)."
    )
    persisted_queries_only: bool = Field(
        default=False, description="Run only the operations of the manifest (needs `PERSISTED_QUERIES_MANIFEST`)."
    )
    persisted_queries_manifest: Path | None = Field(default=None, description="Path of the persisted query manifest.")
    graphiql: bool = Field(
        default=True,
        description="Serve GraphiQL on `GET /graphql` (assets from the package, no CDN); off in production unless set.",
    )

    # Production operations (docs/operations/production.md). In production GraphiQL and
    # introspection are off unless set explicitly.
    introspection: bool = Field(default=True, description="Allow schema introspection; off in production unless set.")
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1_024,
        description="Larger request bodies get HTTP 413 before anything parses them (at least 1024).",
    )
    rate_limit_per_second: float = Field(
        default=50.0,
        ge=0,
        description=(
            "Token bucket refill per app, shared by every gateway process on the store; 0 turns the limit off. "
            "Over it: HTTP 429 with `Retry-After`. An app's backend (app tokens), its end users (user and "
            "session tokens) and its first registrations (X-App-Id alone) each have a bucket of this size, so "
            "holders of the public app id never spend the backend's nor the registered users'."
        ),
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="Bucket size: requests an app may send at once.")
    rate_limit_lease: int = Field(
        default=10,
        ge=1,
        description=(
            "Most tokens a process takes from an app's bucket at once, sized to a quarter second of its "
            "own traffic for the app and spent within a second: a busy app's requests cost one store "
            "round trip per that many (1: one per request). N processes may together exceed a full burst "
            "by N * (lease - 1) requests, never the rate over time."
        ),
    )
    anonymous_limit_per_minute: int = Field(
        default=60,
        ge=0,
        description=(
            "Requests with only X-App-Id (an installation's first registration) per client address, app and "
            "minute, beside the app's registrations bucket; 0 turns the limit off. Over it: HTTP 429."
        ),
    )
    anonymous_burst: int = Field(
        default=20, ge=1, description="Requests with only X-App-Id a client address may send at once, per app."
    )
    anonymous_network_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description=(
            "Requests with only X-App-Id per IPv6 /48 network, app and minute, beside each address's (an "
            "IPv6 client's /64) limit: one site holds 65,536 /64s. 0 turns the limit off. Over it: HTTP 429."
        ),
    )
    anonymous_network_burst: int = Field(
        default=100, ge=1, description="Requests with only X-App-Id an IPv6 /48 network may send at once, per app."
    )
    end_user_limit_per_second: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Requests per second of one end user (a user token's externalUserId, a session token's anonymous "
            "user), beside the end users' shared bucket, so that one user cannot spend the others' budget; 0 "
            "turns the limit off. Kept in each gateway process's memory, with no store round trip: behind N "
            "processes one user may send up to N times this. Over it: HTTP 429."
        ),
    )
    end_user_burst: int = Field(
        default=30, ge=1, description="Requests one end user may send at once, per gateway process."
    )
    # Failed authentications per client address (ASGI `client` host); 0 turns the limit off.
    auth_failure_limit_per_minute: int = Field(
        default=60,
        ge=0,
        description="Failed authentications per client address and minute before HTTP 429; 0 turns the limit off.",
    )
    auth_failure_burst: int = Field(
        default=20,
        ge=1,
        description="Failed authentications a client address may have in a row before the per-minute rate applies.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="JSON list of browser origins allowed to call the API, e.g. `'[\"https://console.example.com\"]'`.",
    )
    metrics: bool = Field(default=True, description="Prometheus text at `GET /metrics`.")
    log_format: Literal["json", "text"] = Field(default="json", description="`json` (one object per line) or `text`.")
    shutdown_grace_seconds: int = Field(
        default=10, ge=0, description="On SIGTERM, in-flight requests get this long to finish."
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long a mutation's response is kept for `Idempotency-Key` retries."
    )
    persisted_queries_ttl_hours: int = Field(
        default=168,
        ge=1,
        description="Registered persisted queries expire from the store this long after their last look-up.",
    )
    persisted_queries_registrations_per_hour: int = Field(
        default=100,
        ge=0,
        description=(
            "Persisted query texts each side of an app's rate limits (its backend, its end users, its first "
            "registrations) may register per hour (a full hour's worth at once), shared by every replica; over it "
            "the operation still runs and its text is not kept. Bounds what holders of the public app id can "
            "store. 0 turns the budget off."
        ),
    )

    # Request limits (docs/reference/request-limits.md).
    max_query_fragments: int = Field(default=50, ge=0, description="Fragment definitions per GraphQL document.")
    max_fragment_spreads: int = Field(default=200, ge=0, description="Fragment spreads per document, as written.")
    max_json_depth: int = Field(default=32, ge=4, description="Nesting depth of the request's JSON (body, variables).")
    max_json_values: int = Field(default=200_000, ge=100, description="Values in the request's JSON, all levels.")
    max_json_list_length: int = Field(
        default=2_000, ge=10, description="Items in one JSON list of a request (above the schema's largest list limit)."
    )
    max_json_string_length: int = Field(default=1_048_576, ge=1_024, description="Characters in one JSON string.")
    max_json_number_length: int = Field(default=100, ge=20, description="Characters in one JSON number.")
    # Longest lifetime (exp - iat) of a JWT per scope; longer-lived tokens get 401.
    max_user_token_lifetime_hours: float = Field(
        default=24, gt=0, description="Longest lifetime (exp - iat) of a user token; longer ones get 401."
    )
    max_app_token_lifetime_hours: float = Field(
        default=24, gt=0, description="Longest lifetime (exp - iat) of an app token; longer ones get 401."
    )
    max_admin_token_lifetime_hours: float = Field(
        default=24, gt=0, description="Longest lifetime (exp - iat) of an admin token; longer ones get 401."
    )
    # Slow clients (uvicorn, `profile-gateway serve`): seconds allowed for a request's headers,
    # for its body, and for an idle keep-alive connection.
    header_timeout_seconds: float = Field(
        default=10, gt=0, description="`serve`: seconds a client has to send a request's headers."
    )
    body_timeout_seconds: float = Field(
        default=30, gt=0, description="Seconds a client has to send a request's body (else 408)."
    )
    keep_alive_timeout_seconds: float = Field(
        default=5, gt=0, description="`serve`: seconds an idle keep-alive connection stays open."
    )

    # Change events (docs/guides/change-events.md).
    change_event_retention_days: int = Field(
        default=7, ge=1, description="How long the outbox keeps change events (changeEvents feed, redelivery)."
    )
    anonymous_lead_retention_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description=(
            "Erase anonymous leads (no identifier, no contact data, no channel) that were neither"
            " written nor seen on any device for this many days, with their installations, sessions"
            " and history; housekeeping checks once a day. 0: keep them. An app may set its own"
            " (updateApp settings.anonymousLeadRetentionDays)."
        ),
    )
    webhook_dispatcher: bool = Field(
        default=True,
        description="Deliver webhooks from the gateway process; off: run `profile-gateway deliver` on its own.",
    )
    webhook_poll_ms: int = Field(default=200, ge=10, description="How often the dispatcher looks for new deliveries.")
    webhook_idle_poll_ms: int = Field(
        default=2000,
        ge=10,
        description=(
            "How often the dispatcher looks while no endpoint is enabled (in any app). An endpoint"
            " created, enabled or asked to redeliver through the same process is picked up at once;"
            " through another, within this delay."
        ),
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one webhook request.")
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Seconds before each retry (jittered); the delivery fails after the last one.",
    )
    webhook_disable_after_failures: int = Field(
        default=50, ge=1, description="An endpoint is disabled after this many failed attempts in a row."
    )
    webhook_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a dispatcher holds a delivery before another may take it."
    )
    webhook_secret_grace_hours: int = Field(
        default=24, ge=0, description="After rotateWebhookSecret, the old secret also signs for this long."
    )
    webhook_max_endpoints: int = Field(default=20, ge=1, description="Webhook endpoints per app.")
    webhook_allow_http_localhost: bool | None = Field(
        default=None,
        description=(
            "Allow http:// webhook URLs to localhost / loopback (a receiver on a laptop). Unset: allowed in "
            "development, refused in production."
        ),
    )
    webhook_allowed_networks: list[str] = Field(
        default_factory=list, description="Private-network targets (CIDRs) webhooks may reach; others are refused."
    )
    subscription_max_connections_per_app: int = Field(
        default=100,
        ge=1,
        description=(
            "Open graphql-transport-ws connections per gateway process for an app's backend (app tokens), and as "
            "many again for its end users (user and session tokens)."
        ),
    )
    subscription_max_connections_per_user: int = Field(
        default=5,
        ge=1,
        description=(
            "Open graphql-transport-ws connections per gateway process of one end user (a user token's "
            "externalUserId, a session token's anonymous user)."
        ),
    )
    subscription_max_per_connection: int = Field(default=10, ge=1, description="Subscriptions per connection.")
    subscription_init_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="A websocket that sends no `connection_init` within this delay is closed (code 4408).",
    )
    subscription_poll_ms: int = Field(
        default=250, ge=10, description="How often a subscription looks at the outbox for new changes."
    )

    @property
    def token_max_lifetimes(self) -> dict[str, timedelta]:
        return {
            "user": timedelta(hours=self.max_user_token_lifetime_hours),
            "app": timedelta(hours=self.max_app_token_lifetime_hours),
            "admin": timedelta(hours=self.max_admin_token_lifetime_hours),
        }

    @property
    def webhooks_to_http_localhost(self) -> bool:
        if self.webhook_allow_http_localhost is not None:
            return self.webhook_allow_http_localhost
        return self.environment != "production"

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
