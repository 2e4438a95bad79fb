"""HTTP concerns live in app/http; the GraphQL layer does not depend on them."""

from __future__ import annotations

import ast
from pathlib import Path

GRAPHQL = Path(__file__).parents[1] / "app" / "graphql"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_graphql_package_imports_nothing_from_app_http() -> None:
    offending = {
        str(path.relative_to(GRAPHQL)): sorted(name for name in _imports(path) if name.startswith("app.http"))
        for path in GRAPHQL.rglob("*.py")
    }
    assert {path: names for path, names in offending.items() if names} == {}
