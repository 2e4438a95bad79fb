"""docker-compose.yml is valid for Debian's docker-compose, with no variables set."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_file_is_valid() -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PROFILE_GATEWAY_")}
    check = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr
    resolved = subprocess.run(
        ["docker-compose", "config"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    ).stdout
    assert "--replSet" in resolved and "rs.initiate" in resolved
    assert "MONGODB_URI: mongodb://mongodb:27017/?replicaSet=rs0" in resolved
