"""The README's commands are the ones the project runs."""

from __future__ import annotations

import re

from tests.docs.examples import ROOT


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)]


def test_the_readme_test_command_is_what_ci_runs() -> None:
    two_commands = (ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    serve, test = _bash_blocks(two_commands)
    assert test in (ROOT / ".ci/run").read_text().splitlines()
    # Both install the same way, so the test command's reinstall leaves a running gateway alone.
    assert serve.startswith("python3.13 -m venv .venv && .venv/bin/pip install -q -e .")
    assert serve.endswith(".venv/bin/profile-gateway serve")
