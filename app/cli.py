"""The ``profile-gateway`` command: serve, mint tokens, list apps, import, export."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from starlette.applications import Starlette

from app.auth import tokens
from app.config import Settings
from app.local_secrets import SECRETS_FILE, ensure_local_secrets
from app.observability.logs import configure_logging
from app.store.embedded_socket import StoreAlreadyRunning
from app.store.store_address import running_store_uri

cli = typer.Typer(help="Profile Gateway: a GraphQL service for end-user profiles.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths and commands stay on one line, ready to copy
apps_cli = typer.Typer(help="Apps (tenants) and their key ids.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
leads_cli = typer.Typer(help="Anonymous leads (ANONYMOUS_LEAD_RETENTION_DAYS).", no_args_is_help=True)
cli.add_typer(leads_cli, name="leads")


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"profile-gateway {package_version('profile-gateway')}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Profile Gateway: a GraphQL service for end-user profiles."""


def _command() -> str:
    """How to run this CLI again from the current directory: the venv's script when there is one."""
    script = Path(sys.executable).parent / "profile-gateway"  # not resolved: a venv's python is a symlink
    if not script.exists():
        return "profile-gateway"
    try:
        shown = script.absolute().relative_to(Path.cwd())
    except ValueError:
        return shlex.quote(str(script.absolute()))
    return shlex.quote(str(shown))


def _print_how_to_connect(host: str, port: int, data_dir: Path | None) -> None:
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
    dir_option = f" --data-dir {shlex.quote(str(data_dir))}" if data_dir is not None else ""
    console.print(
        f"GraphiQL: http://{shown_host}:{port}/graphql   (another port: {_command()} serve --port 8080{dir_option})"
    )
    console.print(f"Admin token: {_command()} token admin{dir_option}   (paste as Authorization: Bearer <token>)")


def _require_local_store(settings: Settings, what: str) -> None:
    """Refuse, saying where it looked, when the data directory holds no gateway data: creating
    fresh secrets there would mint tokens that the running gateway rejects."""
    secrets_file = settings.data_dir.absolute() / SECRETS_FILE
    if secrets_file.exists():
        return
    console.print(
        f"No gateway data in {settings.data_dir.absolute()} (looked for {secrets_file}). "
        f"{what} needs the data directory of a gateway that has started once: pass --data-dir "
        "(or set PROFILE_GATEWAY_DATA_DIR) as given to `serve`, or set MONGODB_URI and the secrets."
    )
    raise typer.Exit(code=2)


WORKER_LOG_LEVEL = "PROFILE_GATEWAY_WORKER_LOG_LEVEL"  # from `serve --workers` to its processes


def _settings(data_dir: Path | None) -> Settings:
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        # One line per problem, no traceback: enough to fix the configuration.
        for problem in error.errors():
            console.print(f"Configuration error: {problem['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(code=2) from None


def _shared_store(settings: Settings, log_level: str, workers: int) -> tuple[Settings, subprocess.Popen[bytes] | None]:
    """Settings for gateways that reach the embedded store as a process of its own.

    A ``profile-gateway store`` already serving the data dir is used; with several workers
    and none running, one is started here (and stopped with the gateway).
    """
    uri = running_store_uri(settings.data_dir)
    child: subprocess.Popen[bytes] | None = None
    if uri is None and workers > 1:
        command = [sys.executable, "-m", "app.cli", "store", "--data-dir", str(settings.data_dir)]
        command += ["--engine", settings.embedded_engine, "--log-level", log_level]
        child = subprocess.Popen(command)  # noqa: S603 (our own CLI, no shell)
        deadline = time.monotonic() + 30
        while (uri := running_store_uri(settings.data_dir)) is None:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                console.print("[red]The embedded store did not start.[/red]")
                raise typer.Exit(code=1)
            time.sleep(0.05)
    if uri is None:
        return settings, None
    return settings.model_copy(update={"mongodb_uri": uri}), child


def _export_for_workers(settings: Settings, log_level: str) -> None:
    """Worker processes read their settings from the environment: pass on what was resolved here."""
    assert settings.admin_secret is not None and settings.master_key is not None
    os.environ["PROFILE_GATEWAY_ADMIN_SECRET"] = settings.admin_secret.get_secret_value()
    os.environ["PROFILE_GATEWAY_MASTER_KEY"] = settings.master_key.get_secret_value()
    os.environ["PROFILE_GATEWAY_DATA_DIR"] = str(settings.data_dir)
    os.environ[WORKER_LOG_LEVEL] = log_level
    if settings.mongodb_uri is not None:
        os.environ["MONGODB_URI"] = settings.mongodb_uri


def worker_app() -> Starlette:
    """The application of one ``serve --workers`` process (uvicorn's factory)."""
    from app.main import create_app

    settings = Settings()
    configure_logging(os.environ.get(WORKER_LOG_LEVEL, "info"), settings.log_format)
    return create_app(settings)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store and generated secrets.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Gateway processes; they share the store (embedded: as its own process).")
    ] = 1,
) -> None:
    """Serve the GraphQL API (embedded store unless MONGODB_URI is set)."""
    import uvicorn

    from app.http.slow_clients import uvicorn_options
    from app.main import create_app

    os.umask(0o077)  # anything this process creates (the store's files, secrets) is owner-only
    settings = _settings(data_dir)
    configure_logging(log_level, settings.log_format)
    child: subprocess.Popen[bytes] | None = None
    if settings.embedded:
        local = ensure_local_secrets(settings)
        settings = local.settings
        if local.generated:
            console.print(f"Generated an admin secret and a master key into {local.path} (keep it private).")
        settings, child = _shared_store(settings, log_level, workers)
        where = "its own process" if settings.mongodb_uri is not None else "in this process"
        console.print(f"Embedded store ({where}): {settings.data_dir.resolve()}")
    else:
        console.print("Store: MONGODB_URI")
    _print_how_to_connect(host, port, data_dir)
    if workers > 1:
        _export_for_workers(settings, log_level)
    try:
        uvicorn.run(
            create_app(settings) if workers == 1 else "app.cli:worker_app",
            factory=workers > 1,
            workers=workers if workers > 1 else None,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,  # keep the JSON handler configured above
            access_log=False,  # Observe logs every request, with its id; uvicorn's line would repeat it
            lifespan="on",
            # On SIGTERM stop accepting, let in-flight requests finish (bounded), then close the store.
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            # Slow clients: header, keep-alive (and, in the app, body) timeouts.
            **uvicorn_options(settings),
        )
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)


@cli.command()
def store(
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store and generated secrets.")] = None,
    engine: Annotated[str | None, typer.Option(help="sqlite or memory (default: the EMBEDDED_ENGINE setting).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the embedded store as its own process, for several gateways (`serve` on the same --data-dir)."""
    from app.store.embedded import EmbeddedServer
    from app.store.store_address import remove_address, write_address

    os.umask(0o077)
    settings = _settings(data_dir)
    configure_logging(log_level, settings.log_format)
    if not settings.embedded:
        console.print("[red]MONGODB_URI is set: there is no embedded store to run.[/red]")
        raise typer.Exit(code=2)
    if engine not in (None, "sqlite", "memory"):
        raise typer.BadParameter("sqlite or memory", param_hint="--engine")
    local = ensure_local_secrets(settings)
    server = EmbeddedServer(settings.data_dir, engine=engine or settings.embedded_engine)  # type: ignore[arg-type]

    announced: list[str] = []

    def ready(uri: str) -> None:
        write_address(settings.data_dir, uri)
        announced.append(uri)
        console.print(f"Embedded store: {settings.data_dir.resolve()} (secrets: {local.path})")
        console.print(f"Gateways on this data dir find it: profile-gateway serve --data-dir {settings.data_dir}")
        typer.echo(f"MONGODB_URI={uri}")

    try:
        server.run_in_foreground(ready)
    except StoreAlreadyRunning as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from None
    finally:
        if announced:  # never the address file of another store that was already running
            remove_address(settings.data_dir)


@cli.command()
def token(
    scope: Annotated[str, typer.Argument(help="admin, app or user.")],
    key_id: Annotated[str | None, typer.Option(help="App key id (app and user tokens).")] = None,
    key_secret: Annotated[
        str | None,
        typer.Option(help="App key secret (app and user tokens).", envvar="PROFILE_GATEWAY_KEY_SECRET"),
    ] = None,
    subject: Annotated[str | None, typer.Option("--sub", help="externalUserId (user tokens).")] = None,
    email: Annotated[
        str | None,
        typer.Option("--email", help="A verified email the user token vouches for (`email` claim)."),
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option("--phone", help="A verified phone (E.164) the user token vouches for (`phone_number` claim)."),
    ] = None,
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
        typer.echo(tokens.mint(_admin_secret(data_dir), claims, ttl=ttl))
        return
    if scope not in ("app", "user"):
        raise typer.BadParameter("scope must be admin, app or user", param_hint="SCOPE")
    if not key_id or not key_secret:
        raise typer.BadParameter("app and user tokens need --key-id and --key-secret")
    if scope == "user":
        if not subject:
            raise typer.BadParameter("user tokens need --sub <externalUserId>")
        claims["sub"] = subject
        # Only signed claims let a user token assert an email or phone (see SECURITY.md).
        if email:
            claims["email"] = email
        if phone:
            claims["phone_number"] = phone
    elif email or phone:
        raise typer.BadParameter("--email and --phone are claims of user tokens only")
    typer.echo(tokens.mint(key_secret, claims, key_id=key_id, ttl=ttl))


def _admin_secret(data_dir: Path | None) -> str:
    """The secret the gateway signs admin tokens with; never a new one."""
    settings = _settings(data_dir)
    if settings.embedded and settings.admin_secret is None:
        _require_local_store(settings, "An admin token")
        settings = ensure_local_secrets(settings).settings
    assert settings.admin_secret is not None  # Settings requires it with MONGODB_URI
    return settings.admin_secret.get_secret_value()


@apps_cli.command("list")
def list_apps(
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store (ignored when MONGODB_URI is set).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per app instead of a table.")] = False,
) -> None:
    """List every app with its active key ids (never secrets): how to find a lost app id."""
    import asyncio

    from app.domain.apps import MAX_APPS_PAGE_SIZE, list_apps
    from app.store.client import open_store

    settings = _settings(data_dir)
    if settings.embedded:
        _require_local_store(settings, "Listing apps")

    async def run() -> list[tuple[dict[str, object], list[str]]]:
        store = open_store(settings)
        found: list[tuple[dict[str, object], list[str]]] = []
        try:
            after = None
            while True:
                page = await list_apps(store, MAX_APPS_PAGE_SIZE, after)
                found += [(app, [key["_id"] for key in page.keys[app["_id"]]]) for app in page.apps]
                if not page.has_next_page:
                    return found
                after = page.apps[-1]["_id"]
        finally:
            await store.close()

    found = asyncio.run(run())
    if as_json:
        for app, key_ids in found:
            line = {"id": app["_id"], "name": app["name"], "createdAt": str(app["createdAt"]), "keyIds": key_ids}
            typer.echo(json.dumps(line))
        return
    for app, key_ids in found:
        # Plain lines, never truncated to the terminal's width: the ids are there to be copied.
        typer.echo(f"{app['_id']}  {app['name']}  (created {str(app['createdAt'])[:19]})  keys: {', '.join(key_ids)}")
    console.print(f"{len(found)} app(s).")


@leads_cli.command("idle")
def idle_leads(
    days: Annotated[
        int | None,
        typer.Option(
            min=0, max=36_500, help="The retention to try; default: each app's own, else ANONYMOUS_LEAD_RETENTION_DAYS."
        ),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Embedded store (ignored when MONGODB_URI is set).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per app instead of lines.")] = False,
) -> None:
    """Count, per app, the anonymous leads a retention would erase now (reads only): --days, or
    the retention in effect for each app. What to look at before setting one."""
    import asyncio

    from app.domain import clock
    from app.domain.lead_retention import count_idle, retention_by_app
    from app.store.client import open_store

    settings = _settings(data_dir)
    if settings.embedded:
        _require_local_store(settings, "Counting idle leads")
    now = clock.now()

    async def run() -> list[tuple[str, int, int, int]]:
        store = open_store(settings)
        counted: list[tuple[str, int, int, int]] = []
        try:
            for app_id, in_effect in await retention_by_app(store, settings.anonymous_lead_retention_days):
                retention = in_effect if days is None else days
                if retention == 0:
                    counted.append((app_id, 0, 0, 0))  # its leads are kept: nothing to read
                    continue
                idle, users = await count_idle(store, app_id, now - timedelta(days=retention))
                counted.append((app_id, retention, idle, users))
            return counted
        finally:
            await store.close()

    counted = asyncio.run(run())
    for app_id, retention, idle, users in counted:
        if as_json:
            line = {"appId": app_id, "retentionDays": retention, "idleLeads": idle, "users": users}
            typer.echo(json.dumps(line))
        elif retention == 0:
            typer.echo(f"{app_id}  keeps its anonymous leads (no retention)")
        else:
            typer.echo(f"{app_id}  {idle} of {users} users are anonymous leads idle for {retention} days")
    if not as_json:
        total = sum(idle for _, _, idle, _ in counted)
        console.print(f"{total} idle anonymous lead(s) in {len(counted)} app(s).")


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
    from app.importer.console import run_command
    from app.importer.run import Options

    if file_format not in (None, "ndjson", "csv"):
        raise typer.BadParameter("ndjson or csv", param_hint="--format")
    settings = _settings(data_dir)
    # A batch on the embedded server takes seconds; its socket timeout must allow for that.
    settings = settings.model_copy(update={"store_timeout_ms": max(settings.store_timeout_ms, 60_000)})
    size = batch_size or (200 if settings.embedded else 1000)
    options = Options(batch_size=size, resume=resume, rejects=rejects, format=file_format)  # type: ignore[arg-type]

    raise typer.Exit(run_command(settings, app_id, file, options, console))


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


@cli.command("export-docs")
def export_docs(
    root: Annotated[Path, typer.Option(help="The repository root (holds docs/).")] = Path("."),
) -> None:
    """Regenerate the configuration and limits tables in docs/ from the code."""
    from app import doc_tables

    changed = doc_tables.write(root)
    console.print(json.dumps({"written": changed}))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
