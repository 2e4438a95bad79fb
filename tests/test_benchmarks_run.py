"""The scale and import benchmarks still run end to end (tiny sizes): their numbers are
recorded in bench/README.md, and a fresh clone must be able to produce them again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_the_scale_benchmark_measures_every_shape() -> None:
    finished = _run(
        "bench.scale",
        *("--sizes", "200", "--calls", "2", "--write-calls", "1"),
        *("--write-seconds", "1", "--write-rounds", "2", "--floor-rounds", "1", "--floor-calls", "20"),
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| ") and not line.startswith("| request")]
    assert len(rows) == 9, finished.stdout  # seven request shapes, the concurrent writes, the minimal endpoint
    assert all(row.rstrip(" |").endswith("ok") for row in rows[:8]), finished.stdout
    assert "gateway vs minimal endpoint" in rows[8] and "ratio" in rows[8], finished.stdout
    assert "machine speed" in finished.stdout


def test_the_import_benchmark_imports_every_row() -> None:
    finished = _run("bench.import_rows", "--rows", "120")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "result: ok" in finished.stdout
    assert "120" in finished.stdout.split("imported", 1)[1].splitlines()[0], finished.stdout


def test_the_bulk_benchmark_compares_the_gateway_with_both_baselines() -> None:
    finished = _run("bench.bulk", "--n", "40", "--batch", "20")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "ratio gateway/every document" in finished.stdout and "ratio gateway/users only" in finished.stdout
