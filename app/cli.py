"""The ``profile-gateway`` command: serve, mint tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from app.auth import tokens
from app.config import Settings
from app.local_secrets import ensure_local_secrets
from app.observability.logs import configure_logging

cli = typer.Typer(help="Profile Gateway: a GraphQL service for end-user profiles.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths and commands stay on one line, ready to copy


def _settings(data_dir: Path | None) -> Settings:
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        # One line per problem, no traceback: enough to fix the configuration.
        for problem in error.errors():
            console.print(f"Configuration error: {problem['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(code=2) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store and generated secrets.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Serve the GraphQL API (embedded store unless MONGODB_URI is set)."""
    import uvicorn

    from app.main import create_app

    settings = _settings(data_dir)
    configure_logging(log_level, settings.log_format)
    if settings.embedded:
        local = ensure_local_secrets(settings)
        settings = local.settings
        if local.generated:
            console.print(f"Generated an admin secret and a master key into {local.path} (keep it private).")
        console.print(f"Embedded store: {settings.data_dir.resolve()}")
    else:
        console.print("Store: MONGODB_URI")
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
    console.print(f"GraphiQL: http://{shown_host}:{port}/graphql")
    dir_option = f" --data-dir {data_dir}" if data_dir is not None else ""
    console.print(f"Admin token: profile-gateway token admin{dir_option}   (paste as Authorization: Bearer <token>)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # keep the JSON handler configured above
        lifespan="on",
        # On SIGTERM stop accepting, let in-flight requests finish (bounded), then close the store.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@cli.command()
def token(
    scope: Annotated[str, typer.Argument(help="admin, app or user.")],
    key_id: Annotated[str | None, typer.Option(help="App key id (app and user tokens).")] = None,
    key_secret: Annotated[
        str | None,
        typer.Option(help="App key secret (app and user tokens).", envvar="PROFILE_GATEWAY_KEY_SECRET"),
    ] = None,
    subject: Annotated[str | None, typer.Option("--sub", help="externalUserId (user tokens).")] = None,
    hours: Annotated[float, typer.Option(help="Lifetime in hours.")] = 12.0,
    data_dir: Annotated[Path | None, typer.Option(help="Where the embedded store keeps its secrets.")] = None,
    audience: Annotated[
        str | None,
        typer.Option(
            help="aud claim (a gateway with a JWT audience requires it).", envvar="PROFILE_GATEWAY_JWT_AUDIENCE"
        ),
    ] = None,
) -> None:
    """Mint a JWT: admin (with the admin secret), app or user (with an app key)."""
    ttl = timedelta(hours=hours)
    # A gateway with PROFILE_GATEWAY_JWT_AUDIENCE refuses tokens without that aud.
    claims: dict[str, str] = {"scope": scope, **({"aud": audience} if audience else {})}
    if scope == "admin":
        settings = _settings(data_dir)
        if settings.embedded:
            settings = ensure_local_secrets(settings).settings
        assert settings.admin_secret is not None
        typer.echo(tokens.mint(settings.admin_secret.get_secret_value(), claims, ttl=ttl))
        return
    if scope not in ("app", "user"):
        raise typer.BadParameter("scope must be admin, app or user", param_hint="SCOPE")
    if not key_id or not key_secret:
        raise typer.BadParameter("app and user tokens need --key-id and --key-secret")
    if scope == "user":
        if not subject:
            raise typer.BadParameter("user tokens need --sub <externalUserId>")
        claims["sub"] = subject
    typer.echo(tokens.mint(key_secret, claims, key_id=key_id, ttl=ttl))


@cli.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(help="NDJSON (.ndjson/.jsonl) or CSV (.csv) file of user records.", exists=True, dir_okay=False),
    ],
    app_id: Annotated[str, typer.Option(help="The app (tenant) to import into.")],
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="Records per bulk write (default: 1000 on MongoDB, 200 on the embedded store)."
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue after the last stored batch of an interrupted run.")] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejected records (line, code, field, message). Default: FILE.rejects.csv")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="ndjson or csv (default: from the extension).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store (ignored when MONGODB_URI is set).")] = None,
) -> None:
    """Import users from NDJSON or CSV through the bulk upsert path, with progress and --resume."""
    import asyncio

    from app.domain.apps import get_app
    from app.domain.errors import DomainError
    from app.importer.console import import_with_progress
    from app.importer.run import Options
    from app.store.client import open_store
    from app.store.indexes import ensure_indexes

    if file_format not in (None, "ndjson", "csv"):
        raise typer.BadParameter("ndjson or csv", param_hint="--format")
    settings = _settings(data_dir)
    # A batch on the embedded server takes seconds; its socket timeout must allow for that.
    settings = settings.model_copy(update={"store_timeout_ms": max(settings.store_timeout_ms, 60_000)})
    size = batch_size or (200 if settings.embedded else 1000)
    options = Options(batch_size=size, resume=resume, rejects=rejects, format=file_format)  # type: ignore[arg-type]

    async def run() -> int:
        store = open_store(settings)
        try:
            await ensure_indexes(store)
            if await get_app(store, app_id) is None:
                console.print(f"[red]No app {app_id!r} in this store.[/red]")
                return 2
            summary = await import_with_progress(store, app_id, file, options, console)
        except (DomainError, ValueError) as error:
            console.print(f"[red]{error}[/red]")
            return 2
        finally:
            await store.close()
        return 1 if summary.rejected else 0

    raise typer.Exit(asyncio.run(run()))


@cli.command("deliver")
def deliver(
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store and generated secrets.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Deliver webhook events as a process of its own (with PROFILE_GATEWAY_WEBHOOK_DISPATCHER=false
    on the gateways). Needs MONGODB_URI: the embedded store belongs to the gateway's process."""
    import asyncio
    import signal

    from app.crypto import SecretBox
    from app.domain.webhooks_dispatcher import Dispatcher
    from app.store.client import open_store
    from app.store.indexes import ensure_indexes

    settings = _settings(data_dir)
    configure_logging(log_level, settings.log_format)
    if settings.embedded:
        console.print("deliver needs MONGODB_URI; with the embedded store the gateway delivers itself.")
        raise typer.Exit(2)
    assert settings.master_key is not None  # required when MONGODB_URI is set

    async def run() -> None:
        store = open_store(settings)
        dispatcher = Dispatcher(store, SecretBox(settings.master_key.get_secret_value()), settings)  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, dispatcher.stop)
        try:
            await ensure_indexes(store)
            console.print("Delivering webhook events (Ctrl-C stops after the current round).")
            await dispatcher.run()
        finally:
            await store.close()

    asyncio.run(run())


@cli.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema (SDL) to schema.graphql."""
    from app.graphql.schema import schema

    output.write_text(schema.as_str() + "\n")
    console.print(json.dumps({"written": str(output)}))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
