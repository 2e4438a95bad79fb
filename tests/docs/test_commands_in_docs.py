"""Every `profile-gateway ...` command the docs show names a real command and real options."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from app.cli import cli
from tests.docs.examples import ROOT, doc_files

INVOCATION = re.compile(r"profile-gateway((?: +[^\s`|)#]+)+)")


def _invocations() -> list[tuple[str, str]]:
    found = []
    for path in doc_files():
        if path.exists():
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                found += [(f"{path.relative_to(ROOT)}:{number}", match.group(1)) for match in INVOCATION.finditer(line)]
    return found


def _options(command: Any) -> set[str]:
    return {"--help", *(option for param in command.params for option in param.opts)}


def _problem(words: list[str]) -> str | None:
    command: Any = typer.main.get_command(cli)  # typer's own click: duck-typed here
    options = _options(command)
    for index, word in enumerate(words):
        if word.startswith("--"):
            if word.split("=", 1)[0] not in options:
                return f"{word} is not an option of {command.name}"
        elif hasattr(command, "commands"):  # a group: the word names a subcommand
            if index > 0 and words[index - 1].startswith("--"):
                continue  # an option's value
            sub = command.commands.get(word)
            if sub is None:
                return f"{word!r} is not a command"
            command = sub
            options = _options(command)
    return None


@pytest.mark.parametrize(("where", "invocation"), _invocations(), ids=lambda value: str(value))
def test_documented_command_exists(where: str, invocation: str) -> None:
    # Placeholders (<key id>, COMMAND, N) stand for values.
    words = [word.strip("[]") for word in re.sub(r"<[^>]*>", "VALUE", invocation).split() if not word.isupper()]
    assert _problem(words) is None, f"{where}: profile-gateway{invocation}: {_problem(words)}"


def test_a_misspelt_option_is_caught() -> None:
    assert _problem(["token", "admin", "--data-directory", "x"]) == "--data-directory is not an option of token"
    assert _problem(["app", "list"]) == "'app' is not a command"
