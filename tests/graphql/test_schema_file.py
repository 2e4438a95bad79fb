from pathlib import Path

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_file_is_current() -> None:
    printed = schema.as_str() + "\n"
    assert SCHEMA_FILE.read_text() == printed, (
        "schema.graphql is stale: regenerate it with `profile-gateway export-schema` "
        "(or `python -m app.cli export-schema`) and commit it"
    )
