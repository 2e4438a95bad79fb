"""The import command: a progress bar (records/s, ETA), a summary table, and clear endings
when the store times out or the user presses Ctrl-C (what happened and how to resume)."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import time
from pathlib import Path

from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from app.config import Settings
from app.crypto import SecretBox
from app.importer.run import ImportStopped, Options, Summary, count_records, detect_format, run_import
from app.local_secrets import ensure_local_secrets
from app.store.client import Store, open_store
from app.store.errors import is_unavailable
from app.store.indexes import ensure_indexes
from app.store.store_kind import detect_embedded_store

EXIT_OK = 0
EXIT_REJECTS = 1
EXIT_BAD_INPUT = 2
EXIT_STORE_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT
# A batch should take at most this share of the store's timeout.
BATCH_SHARE_OF_TIMEOUT = 0.1


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} records/s" if speed else "… records/s", style="progress.data.speed")


async def import_with_progress(
    store: Store, app_id: str, source: Path, options: Options, console: Console, *, box: SecretBox
) -> Summary:
    fmt = options.format or detect_format(source)
    total = count_records(source, fmt)
    columns = (
        TextColumn("[bold]import"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("import", total=total)
        options.on_progress = lambda advanced: progress.advance(task, advanced)
        summary = await run_import(store, app_id, source, options, box=box)
    elapsed = time.perf_counter() - started
    console.print(summary_table(summary, elapsed))
    return summary


def summary_table(summary: Summary, elapsed: float) -> Table:
    table = Table(title="Import summary", show_header=False)
    rows = [
        ("records read (all runs)", f"{summary.read:,}"),
        ("imported", f"{summary.imported:,}"),
        ("rejected", f"{summary.rejected:,}"),
        ("skipped (imported before --resume)", f"{summary.skipped:,}"),
        ("batches", f"{summary.batches:,}"),
        ("time (this run)", f"{elapsed:.1f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def resume_command(source: Path, app_id: str) -> str:
    return shlex.join(["profile-gateway", "import", str(source), "--app-id", app_id, "--resume"])


def run_command(settings: Settings, app_id: str, source: Path, options: Options, console: Console) -> int:
    """The import command from start to exit code; never a traceback for an outage or Ctrl-C."""
    from app.domain.apps import get_app
    from app.domain.errors import DomainError

    if settings.embedded:
        settings = ensure_local_secrets(settings).settings  # the key the embedded gateway uses
    assert settings.master_key is not None  # Settings fails fast outside the embedded mode
    box = SecretBox(settings.master_key.get_secret_value())
    if options.batch_seconds is None:
        options.batch_seconds = settings.store_timeout_ms / 1000 * BATCH_SHARE_OF_TIMEOUT

    async def run() -> int:
        stopping = _stop_on_ctrl_c(console)
        options.stop_requested = stopping.is_set
        store = open_store(settings)
        try:
            await detect_embedded_store(store)
            await ensure_indexes(store)
            if await get_app(store, app_id) is None:
                console.print(f"[red]No app {app_id!r} in this store.[/red]")
                return EXIT_BAD_INPUT
            summary = await import_with_progress(store, app_id, source, options, console, box=box)
        except (DomainError, ValueError) as error:
            console.print(f"[red]{error}[/red]")
            return EXIT_BAD_INPUT
        except ImportStopped:
            console.print(f"Stopped after a complete batch. Continue with: {resume_command(source, app_id)}")
            return EXIT_INTERRUPTED
        finally:
            await store.close()
        return EXIT_REJECTS if summary.rejected else EXIT_OK

    try:
        return asyncio.run(run())
    except PyMongoError as error:
        if not is_unavailable(error):
            raise
        console.print(
            f"[red]The store did not answer in time ({type(error).__name__}).[/red] "
            "Every batch before the current one is stored with its history; the current one "
            "either committed completely or not at all.\n"
            f"Continue with: {resume_command(source, app_id)}"
        )
        return EXIT_STORE_UNAVAILABLE
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(f"\nInterrupted. Continue with: {resume_command(source, app_id)}")
        return EXIT_INTERRUPTED


def _stop_on_ctrl_c(console: Console) -> asyncio.Event:
    """The first Ctrl-C lets the running batch finish and stops there; a second one stops at
    once (the running batch then commits completely or not at all)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_interrupt() -> None:
        if stopping.is_set() and task is not None:
            task.cancel()
            return
        stopping.set()
        console.print("Stopping after the current batch (Ctrl-C again to stop at once)…")

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers (Windows)
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    return stopping
