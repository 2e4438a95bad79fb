"""The CI workflow is valid for GitHub Actions and runs what the docs promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the GitHub workflow schema it ships (no network)."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def commands(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_the_workflow_matches_githubs_schema() -> None:
    check = validate(WORKFLOW)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_broken_workflow_is_refused(tmp_path: Path) -> None:
    # The control: the same check fails on a workflow with a job that cannot run.
    broken = load(WORKFLOW)
    del broken["jobs"]["test-embedded"]["runs-on"]
    broken["jobs"]["lint"]["timeout-minutes"] = "soon"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert validate(path).returncode != 0


def test_the_suite_runs_on_the_embedded_store_and_on_a_mongodb_8_replica_set() -> None:
    jobs = load(WORKFLOW)["jobs"]
    embedded, mongodb = jobs["test-embedded"], jobs["test-mongodb"]
    assert "python -m pytest" in commands(embedded)
    assert not any("MONGODB_URI" in step.get("env", {}) for step in embedded["steps"])
    # Both embedded engines: the suite's default (memory) and the gateway's (SQLite).
    assert embedded["strategy"]["matrix"]["engine"] == ["memory", "sqlite"]
    suite = next(step for step in embedded["steps"] if "pytest" in str(step.get("run", "")))
    assert suite["env"]["TEST_EMBEDDED_ENGINE"] == "${{ matrix.engine }}"
    run_suite = next(step for step in mongodb["steps"] if "pytest" in str(step.get("run", "")))
    assert run_suite["env"]["MONGODB_URI"].startswith("mongodb://127.0.0.1:27017/")
    assert "docker compose up" in commands(mongodb) and "mongodb" in commands(mongodb)
    compose = load(ROOT / "docker-compose.yml")["services"]["mongodb"]
    assert compose["image"] == "mongo:8.0" and "--replSet" in compose["command"]


def test_the_compose_file_is_checked() -> None:
    assert "docker compose config" in commands(load(WORKFLOW)["jobs"]["compose"])


@pytest.mark.parametrize("job", ["lint", "test-embedded", "test-mongodb", "compose"])
def test_every_job_is_bounded_in_time(job: str) -> None:
    assert isinstance(load(WORKFLOW)["jobs"][job]["timeout-minutes"], int)
