"""The benchmarks still run end to end (tiny sizes): their numbers are
recorded in bench/README.md, and a fresh clone must be able to produce them again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scale import SHAPES
from bench.scale_targets import Measured, print_targets

ROOT = Path(__file__).resolve().parent.parent


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI" and not k.startswith("PROFILE_GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_the_scale_benchmark_measures_every_shape() -> None:
    finished = _run(
        "bench.scale",
        *("--sizes", "100,200", "--calls", "2", "--write-calls", "1", "--growth-rounds", "2", "--growth-calls", "1"),
        # CPU times advance in clock ticks (10 ms): 20 calls of the minimal endpoint (0.6 ms
        # each on a fast host) could read as no CPU at all.
        *("--write-seconds", "1", "--write-rounds", "2", "--floor-rounds", "1", "--floor-calls", "100"),
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    lines = finished.stdout.splitlines()
    requests = lines.index("| request | median ms | p90 ms | store CPU ms/call | gateway CPU ms/call | outcome |")
    rows = lines[requests + 2 : requests + 2 + len(SHAPES) + 1]  # the request shapes, then the concurrent writes
    assert all(row.startswith("| ") and row.rstrip(" |").endswith("ok") for row in rows), finished.stdout
    endpoints = lines.index("| endpoint | CPU ms/call | gateway CPU / endpoint CPU |")
    floor = [line.split(" | ") for line in lines[endpoints + 2 : endpoints + 5]]
    assert ["minimal endpoint" in row[0] for row in floor] == [True, False, False], finished.stdout
    assert "bare Strawberry" in floor[1][0] and "the gateway" in floor[2][0], finished.stdout
    assert all(float(row[1].split()[0]) > 0 for row in floor), finished.stdout  # each one's CPU was read
    thread = lines[endpoints + 5].split(" | ")  # CPU read per thread as well
    assert thread[0] == "| (the gateway's event-loop thread alone)" and float(thread[1].split()[0]) > 0
    generator = lines[endpoints + 6].split(" | ")  # bench/loopback.py's client, its own CPU read too
    assert generator[0] == "| (the load generator, light: this process)" and float(generator[1].split()[0]) > 0
    assert "machine speed" in finished.stdout
    growth = lines.index("### Growth, 100 against 200 users, 2 interleaved rounds")
    judged = [line for line in lines[growth + 4 : lines.index("### Targets")] if line.startswith("| ")]
    assert len(judged) == 6 and all(float(row.split(" | ")[3].split()[0]) > 0 for row in judged), finished.stdout
    targets = lines[lines.index("### Targets") :]
    interleaved = [line for line in targets if "interleaved rounds" in line]
    assert [line.split(" at ")[0] for line in interleaved] == ["| identifier look-ups", "| single-user writes"]
    assert any(line.startswith("| single-user writes ≥ 50/s at 100 users |") for line in targets), finished.stdout
    assert any(line.startswith("| gateway CPU ≤ 1 ms per cached simple read |") for line in targets), finished.stdout


def test_the_calls_benchmark_counts_each_application_answering_alike() -> None:
    finished = _run("bench.calls", "--users", "50", "--calls", "20", "--rounds", "2")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    rows = [line.split(" | ") for line in finished.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row[0] for row in rows[1:]] == [
        "| the gateway",
        "| bare Strawberry (bench/bare_strawberry.py)",
        "| minimal endpoint (bench/minimal.py)",
    ], finished.stdout
    counted = [float(row[1].replace(",", "")) for row in rows[1:]]
    assert counted[0] > counted[2] > 0, finished.stdout  # the gateway does more than a bare endpoint


def test_the_import_benchmark_imports_every_row() -> None:
    finished = _run("bench.import_rows", "--rows", "120")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "result: ok" in finished.stdout
    assert "120" in finished.stdout.split("imported", 1)[1].splitlines()[0], finished.stdout


def test_the_bulk_benchmark_compares_the_gateway_with_both_baselines() -> None:
    finished = _run("bench.bulk", "--n", "40", "--batch", "20")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "ratio gateway/every document" in finished.stdout and "ratio gateway/users only" in finished.stdout


def test_the_idle_dispatcher_benchmark_sends_the_same_reads_per_round_for_any_number_of_endpoints() -> None:
    finished = _run("bench.dispatcher_idle", "--endpoints", "1,3", "--seconds", "1")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    rows = [line.split(" | ") for line in finished.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    per_round = {row[0].strip("| "): float(row[2]) for row in rows[1:]}
    assert per_round == {"1": 3.0, "3": 3.0}, finished.stdout


def test_the_depth_benchmark_reads_at_every_size() -> None:
    finished = _run("bench.depth", "--sizes", "30,60", "--calls", "2")
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [line for line in finished.stdout.splitlines() if line.startswith(("| 30 |", "| 60 |"))]
    assert len(rows) == 4, finished.stdout  # history and deliveries, two sizes each
    assert rows[0].endswith("| 1.00 | 1.00 |") and rows[2].endswith("| 1.00 | 1.00 | 1.00 |"), finished.stdout


def test_the_purge_benchmark_deletes_everything_both_ways_at_every_size() -> None:
    finished = _run("bench.purge", "--sizes", "30", "--idle-sizes", "50,100")
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [
        line
        for line in finished.stdout.splitlines()
        if line.startswith(("| retention", "| an erased", "| a merged", "| an endpoint's"))
    ]
    assert [row.split(" | ")[1] for row in rows] == ["one command", "housekeeping"] * 5, finished.stdout
    assert "| 50 |" in finished.stdout and "| 100 |" in finished.stdout, finished.stdout


def test_the_lead_sweep_benchmark_erases_every_lead_at_every_size() -> None:
    finished = _run("bench.lead_sweep", "--sizes", "20,40", "--leads", "5")
    assert finished.returncode == 0, finished.stderr[-2000:]  # it exits non-zero when a lead is left
    rows = [line.split(" | ") for line in finished.stdout.splitlines() if line.startswith(("| 20 |", "| 40 |"))]
    assert [row[2] for row in rows] == ["nothing idle", "every lead idle"] * 2, finished.stdout
    assert "an erasure:" in finished.stdout, finished.stdout


def test_the_soak_passes_its_own_criterion_from_one_address() -> None:
    # Every simulated device sends from 127.0.0.1, so a limit per client address (X-App-Id's)
    # refuses their first installs within seconds unless the soak turns it off like the others.
    finished = _run("bench.soak", "--duration", "8", "--clients", "8")
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert "errors          0" in finished.stdout, finished.stdout


def test_the_read_benchmark_compares_both_scenarios_on_a_store_process() -> None:
    finished = _run("bench.read", "--users", "50", "--duration", "1", "--concurrency", "2", "--rounds", "2")
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    ratios = [line.split()[-3] for line in finished.stdout.splitlines() if "(gateway/minimal, req/s)" in line]
    assert len(ratios) == 2 and all(float(ratio) > 0 for ratio in ratios), finished.stdout


@pytest.mark.parametrize(
    ("arguments", "printed"),
    [
        (
            ("bench.events", "--mutations", "10", "--rounds", "1", "--events", "20", "--users", "3"),
            "dispatcher: 20 events",
        ),
        (("bench.hot_path", "--requests", "5", "--rounds", "1"), "users(first: 50)"),
        (("bench.registry", "--sizes", "50", "--rounds", "2", "--compare-sizes", "50"), "| registry | insert |"),
    ],
    ids=["events", "hot_path", "registry"],
)
def test_the_other_benchmarks_run_end_to_end(arguments: tuple[str, ...], printed: str) -> None:
    finished = _run(*arguments)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert printed in finished.stdout, finished.stdout


def test_the_cpu_target_is_judged_on_the_figure_as_printed(capsys: pytest.CaptureFixture[str]) -> None:
    at_the_limit = (12.64 - 12.34) / 300 * 1000  # 0.30 s of CPU over 300 calls: 1.0000000000000024
    print_targets([Measured(1000, gateway_cpu_ms=at_the_limit)])
    assert "| 1.00 ms at 1,000 users | **yes** |" in capsys.readouterr().out
    print_targets([Measured(1000, gateway_cpu_ms=1.01)])
    assert "| 1.01 ms at 1,000 users | **no** |" in capsys.readouterr().out
