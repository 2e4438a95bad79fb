"""The GraphQL examples of the docs: every ```graphql block and the marker comment before it.

A marker is `<!-- run: as=ROLE [expect=CODE,CODE] -->` (ROLE: admin, app, user:<sub>,
session, anonymous) or `<!-- not run: why -->`. CONTRIBUTING.md describes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FENCE = re.compile(r"^(?P<indent>[ \t]*)```graphql[ \t]*$")
MARKER = re.compile(r"^<!--\s*(?P<kind>run|not run):\s*(?P<body>.*?)\s*-->$")


@dataclass(frozen=True, slots=True)
class Example:
    path: str
    line: int  # of the opening fence, 1-based
    query: str
    run: bool
    role: str  # admin, app, user:<sub>, session, anonymous ("" when not run)
    expect: frozenset[str]
    problem: str | None = None  # a malformed marker or block

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files() -> list[Path]:
    """README.md first (the tour the others continue), then every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "CONTRIBUTING.md"]


def _marker(lines: list[str], fence: int) -> str | None:
    for index in range(fence - 1, -1, -1):
        text = lines[index].strip()
        if text:
            return text
    return None


def examples(path: Path) -> list[Example]:
    lines = path.read_text().splitlines()
    found: list[Example] = []
    name = str(path.relative_to(ROOT))
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = opening.group("indent")
        body: list[str] = []
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            body.append(lines[end].removeprefix(indent))
            end += 1
        found.append(_example(name, index + 1, "\n".join(body), _marker(lines, index)))
        index = end + 1
    return found


def _example(path: str, line: int, query: str, marker_line: str | None) -> Example:
    marker = MARKER.match(marker_line or "")
    if marker is None:
        problem = "no <!-- run: as=... --> or <!-- not run: ... --> marker before the block"
        return Example(path, line, query, run=False, role="", expect=frozenset(), problem=problem)
    if marker.group("kind") == "not run":
        return Example(path, line, query, run=False, role="", expect=frozenset())
    options = dict(part.split("=", 1) for part in marker.group("body").split() if "=" in part)
    role = options.get("as", "")
    expect = frozenset(code for code in options.get("expect", "").split(",") if code)
    valid = role in ("admin", "app", "session", "anonymous") or (role.startswith("user:") and len(role) > 5)
    return Example(
        path, line, query, run=True, role=role, expect=expect, problem=None if valid else f"unknown role {role!r}"
    )
