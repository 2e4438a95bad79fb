"""The ``profile-gateway`` command: serve, mint tokens, list apps, import, export."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from app.auth import tokens
from app.config import Settings
from app.local_secrets import SECRETS_FILE, ensure_local_secrets
from app.observability.logs import configure_logging

cli = typer.Typer(help="Profile Gateway: a GraphQL service for end-user profiles.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths and commands stay on one line, ready to copy
apps_cli = typer.Typer(help="Apps (tenants) and their key ids.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")


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
    _print_how_to_connect(host, port, data_dir)
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
