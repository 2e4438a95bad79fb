"""The import command's terminal output: a progress bar (records/s, ETA) and a summary table."""

from __future__ import annotations

import time
from pathlib import Path

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

from app.importer.run import Options, Summary, count_records, detect_format, run_import
from app.store.client import Store


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} records/s" if speed else "… records/s", style="progress.data.speed")


async def import_with_progress(store: Store, app_id: str, source: Path, options: Options, console: Console) -> Summary:
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
        summary = await run_import(store, app_id, source, options)
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
