"""Streams a file through bulk_upsert in batches, with a rejects file and a checkpoint.

Each batch is one unit of work: its users and their CREATED/UPDATED events commit together
or not at all. After a batch is stored, its rejects are flushed and the checkpoint records
the last line of the batch, so ``--resume`` continues after it: no record is written twice
and no reject is reported twice. A process killed between a batch's commit and its
checkpoint runs that batch again on ``--resume``; an upsert with the same values changes
nothing (and records no event), so every row keeps exactly its one CREATED event.

With ``batch_seconds`` set, batches start small and grow while one takes well under that
time, and shrink when one takes longer: a batch stays well inside the store's timeout
whatever the store's speed.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Literal

from app.crypto import SecretBox
from app.domain import bulk
from app.domain.actor import Actor
from app.domain.errors import DomainError, ErrorCode
from app.domain.profile import UserPatch
from app.importer.records import csv_converter, from_json
from app.store.client import Store
from app.store.errors import StoreBusy

Format = Literal["ndjson", "csv"]
IMPORT_ACTOR = Actor("system", subject="import")
FIRST_ADAPTIVE_BATCH = 25
BUSY_RETRY_DELAYS = (0.5, 1.0, 2.0)
Parsed = tuple[int, UserPatch | DomainError]  # (line number, record or why it was refused)


@dataclass(slots=True)
class Summary:
    read: int = 0
    imported: int = 0
    rejected: int = 0
    skipped: int = 0  # already imported before a --resume
    batches: int = 0


@dataclass(slots=True)
class Options:
    batch_size: int = 500
    resume: bool = False
    rejects: Path | None = None
    checkpoint: Path | None = None
    format: Format | None = None
    # A batch should take about this long at most; None keeps batch_size fixed.
    batch_seconds: float | None = None
    # Asked after each batch: True stops the import there (ImportStopped), ready for --resume.
    stop_requested: Callable[[], bool] = field(default=lambda: False)
    on_progress: Callable[[int], None] = field(default=lambda advanced: None)
    on_batch: Callable[[Summary], None] = field(default=lambda summary: None)


def detect_format(source: Path) -> Format:
    return "csv" if source.suffix.lower() == ".csv" else "ndjson"


def count_records(source: Path, fmt: Format) -> int:
    """For the progress bar's ETA: lines that hold a record (CSV: minus the header)."""
    with source.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - 1, 0) if fmt == "csv" else lines


def read_records(source: Path, fmt: Format) -> Iterator[Parsed]:
    with source.open(newline="" if fmt == "csv" else None, encoding="utf-8-sig") as handle:
        yield from (_csv_records(handle) if fmt == "csv" else _ndjson_records(handle))


def _ndjson_records(handle: IO[str]) -> Iterator[Parsed]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, from_json(json.loads(line))
        except json.JSONDecodeError as error:
            yield number, DomainError(ErrorCode.INVALID_INPUT, f"not JSON: {error.msg}")
        except DomainError as error:
            yield number, error


def _csv_records(handle: IO[str]) -> Iterator[Parsed]:
    reader = csv.DictReader(handle)
    convert = csv_converter(list(reader.fieldnames or []))  # a bad header stops the import
    start = reader.line_num + 1
    for row in reader:
        try:
            yield start, convert(row)
        except DomainError as error:
            yield start, error
        start = reader.line_num + 1


class _Checkpoint:
    def __init__(self, path: Path, source: Path) -> None:
        self.path, self.source = path, source

    def load(self) -> tuple[int, Summary]:
        if not self.path.exists():
            return 0, Summary()
        saved = json.loads(self.path.read_text())
        if saved.get("source") != str(self.source.resolve()):
            raise ValueError(f"{self.path} belongs to another file ({saved.get('source')})")
        return int(saved["line"]), Summary(**saved["summary"])

    def save(self, line: int, summary: Summary) -> None:
        # Written to a temporary file and renamed: a crash never leaves half a checkpoint.
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"source": str(self.source.resolve()), "line": line, "summary": asdict(summary)})
        )
        os.replace(temporary, self.path)


class ImportStopped(Exception):
    """The import stopped between two batches because it was asked to."""

    def __init__(self, summary: Summary) -> None:
        super().__init__("the import was stopped")
        self.summary = summary


class _BatchSize:
    """The size of the next batch: fixed, or adapted to the time the last one took."""

    def __init__(self, options: Options) -> None:
        self.limit, self.budget = options.batch_size, options.batch_seconds
        self.current = self.limit if self.budget is None else min(self.limit, FIRST_ADAPTIVE_BATCH)

    def took(self, seconds: float) -> None:
        if self.budget is None:
            return
        if seconds > self.budget:
            self.current = max(1, self.current // 2)
        elif seconds < self.budget / 4:
            self.current = min(self.limit, self.current * 2)


async def _store_batch(store: Store, app_id: str, patches: list[UserPatch], box: SecretBox) -> bulk.BulkResult:
    """One batch; a batch the store refused for load runs again (it is one unit of work, so
    it committed completely or not at all)."""
    for delay in BUSY_RETRY_DELAYS:
        try:
            return await bulk.bulk_upsert(store, app_id, IMPORT_ACTOR, patches, box=box)
        except StoreBusy:
            await asyncio.sleep(delay)
    return await bulk.bulk_upsert(store, app_id, IMPORT_ACTOR, patches, box=box)


async def run_import(store: Store, app_id: str, source: Path, options: Options, *, box: SecretBox) -> Summary:
    """``box`` encrypts channel secrets in the records."""
    fmt = options.format or detect_format(source)
    checkpoint = _Checkpoint(options.checkpoint or source.with_name(source.name + ".checkpoint"), source)
    done_line, summary = checkpoint.load() if options.resume else (0, Summary())
    rejects_path = options.rejects or source.with_name(source.name + ".rejects.csv")
    fresh = not (options.resume and rejects_path.exists())
    with rejects_path.open("w" if fresh else "a", newline="", encoding="utf-8") as rejects_file:
        rejects = csv.writer(rejects_file)
        if fresh:
            rejects.writerow(["line", "code", "field", "message"])
        batch: list[tuple[int, UserPatch]] = []
        refused: list[tuple[int, DomainError]] = []
        size = _BatchSize(options)

        async def flush(last_line: int) -> None:
            handled = len(batch) + len(refused)
            if batch:
                started = time.monotonic()
                result = await _store_batch(store, app_id, [patch for _, patch in batch], box)
                size.took(time.monotonic() - started)
                # Paths inside the file's record, without the batch's ("records", index) prefix.
                refused.extend(
                    (batch[failure.index][0], DomainError(failure.code, failure.message, failure.field[2:]))
                    for failure in result.failures
                )
                summary.imported += result.succeeded
            for line, error in sorted(refused, key=lambda item: item[0]):
                rejects.writerow([line, error.code.value, ".".join(error.field), error.message])
            summary.rejected += len(refused)
            summary.batches += 1
            rejects_file.flush()
            os.fsync(rejects_file.fileno())
            checkpoint.save(last_line, summary)
            options.on_progress(handled)
            batch.clear()
            refused.clear()
            options.on_batch(summary)

        last_line, skipped = done_line, 0
        for line, parsed in read_records(source, fmt):
            if line <= done_line:
                skipped += 1
                options.on_progress(1)
                continue
            summary.read += 1
            last_line = line
            if isinstance(parsed, DomainError):
                refused.append((line, parsed))
            else:
                batch.append((line, parsed))
            if len(batch) + len(refused) >= size.current:
                await flush(line)
                if options.stop_requested():
                    raise ImportStopped(summary)
        if batch or refused:
            await flush(last_line)
    summary.skipped = skipped
    return summary
