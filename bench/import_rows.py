"""A newcomer's import: N rows through ``profile-gateway import`` at its default settings.

    python -m bench.import_rows [--rows 10000] [--engine sqlite]

In a fresh temporary data directory: an app is created through the embedded store
(``profile-gateway store``, SQLite by default), which is then stopped; an NDJSON file of
N users (an externalUserId, an email, two tags, a NUMBER, a STRING and a BOOLEAN
attribute, a list of objects on every tenth) is written; then ``profile-gateway import
FILE --app-id ... --data-dir ...`` runs with no other option (it opens the embedded store
on that directory itself, as on a newcomer's machine). Prints the exit code, the time,
rows per second and the import's own summary, and fails (exit 1) unless the import
exited 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scale import _create_app, _start, _stop, _wait_store


def row(number: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "externalUserId": f"import-{number:07d}",
        "givenName": f"Person {number}",
        "emails": [f"person{number}@example.com"],
        "tags": ["imported", f"cohort{number % 7}"],
        "customAttributes": [
            {"key": "ltv", "value": {"number": f"{number % 1000}.{number % 100:02d}"}},
            {"key": "plan", "value": {"string": ("free", "pro", "team")[number % 3]}},
            {"key": "vip", "value": {"boolean": number % 11 == 0}},
        ],
    }
    if number % 10 == 0:
        record["customAttributes"].append({"key": "orders", "value": {"objects": [{"sku": f"S-{number}", "qty": 2}]}})
    return record


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--engine", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    store_log = workdir / "store.log"
    store = _start(["store", "--data-dir", str(data_dir), "--engine", args.engine], env, store_log)
    try:
        store_uri = await _wait_store(data_dir, store, store_log)
        app_id, _ = await _create_app(data_dir, store_uri)
    finally:
        _stop(store)
    source = workdir / "users.ndjson"
    with source.open("w") as handle:
        for number in range(args.rows):
            handle.write(json.dumps(row(number)) + "\n")
    command = [sys.executable, "-m", "app.cli", "import", str(source), "--app-id", app_id, "--data-dir", str(data_dir)]
    started = time.perf_counter()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: ASYNC221
    seconds = time.perf_counter() - started
    summary = [line for line in finished.stdout.splitlines() + finished.stderr.splitlines() if line.strip()]
    print(f"{args.rows:,} rows, embedded store ({args.engine}), default import settings")
    print(f"exit code {finished.returncode}, {seconds:,.1f} s, {args.rows / seconds:,.0f} rows/s")
    print("import said:", *summary[-12:], sep="\n  ")
    ok = finished.returncode == 0
    print("result:", "ok" if ok else f"FAILED (work directory kept: {workdir})")
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
