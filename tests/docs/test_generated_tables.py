"""The configuration and limits tables in docs/ are generated from the code and kept fresh."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from app import doc_tables
from app.config import Settings
from tests.docs.examples import ROOT

CONFIGURATION = "docs/operations/configuration.md"


def test_generated_tables_are_fresh() -> None:
    stale = doc_tables.stale(ROOT)
    assert stale == [], f"{', '.join(stale)}: stale; run `profile-gateway export-docs` and commit the result"


def test_every_setting_is_described() -> None:
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == [], f"add description= to these fields of app/config.py: {undescribed}"


def test_export_docs_puts_the_code_back_into_an_edited_table(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    edited = tmp_path / CONFIGURATION
    original = edited.read_text()
    assert "| `max_query_depth` | `8` |" in original
    edited.write_text(original.replace("| `max_query_depth` | `8` |", "| `max_query_depth` | `9` |"))
    assert doc_tables.stale(tmp_path) == [CONFIGURATION]

    subprocess.run(
        [sys.executable, "-m", "app.cli", "export-docs", "--root", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )

    assert edited.read_text() == original
    assert doc_tables.stale(tmp_path) == []
