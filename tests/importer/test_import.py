"""profile-gateway import: NDJSON and CSV through the bulk path, rejects, --resume."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.crypto import SecretBox
from app.domain import apps
from app.importer.run import Options, Summary, run_import
from app.local_secrets import ensure_local_secrets
from app.store.client import Store, open_store
from app.store.indexes import ensure_indexes
from tests.helpers import Tenant

CSV_ROWS = [
    "externalUserId,firstName,emails,tags,attr.ltv:number,attr.vip:boolean,attr.orders:objects",
    'i-1,Ada,ada@example.com,vip;news,0.1,true,"[{""sku"": ""A""}]"',
    "i-2,Bob,not-an-email,,1,,",
    "i-3,Cy,cy@example.com,,2.5,yes,",
    "i-4,Di,di@example.com,,ten,,",
    "i-5,Ed,ed@example.com,,,,",
    "i-6,Flo,flo@example.com,,,no,",
    "i-7,Gus,gus@example.com,,7,,",
]


class Interrupted(Exception):
    pass


def _rejects(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))[1:]


async def test_csv_import_resumes_without_repeating_work(
    tmp_path: Path, store: Store, tenant: Tenant, box: SecretBox
) -> None:
    source = tmp_path / "users.csv"
    source.write_text("\n".join(CSV_ROWS) + "\n")

    def stop_after_first_batch(summary: Summary) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await run_import(store, tenant.app_id, source, Options(batch_size=3, on_batch=stop_after_first_batch), box=box)
    assert await store.users.count_documents({"appId": tenant.app_id}) == 2  # i-1, i-3 (i-2 refused)

    summary = await run_import(store, tenant.app_id, source, Options(batch_size=3, resume=True), box=box)
    assert (summary.read, summary.imported, summary.rejected, summary.skipped) == (7, 5, 2, 3)
    stored = {u["externalUserId"]: u async for u in store.users.find({"appId": tenant.app_id})}
    assert sorted(stored) == ["i-1", "i-3", "i-5", "i-6", "i-7"]
    assert str(stored["i-1"]["attrs"]["ltv"]) == "0.1" and stored["i-1"]["attrs"]["vip"] is True
    assert stored["i-1"]["attrs"]["orders"] == [{"sku": "A"}] and stored["i-1"]["tags"] == ["vip", "news"]
    assert stored["i-1"]["givenName"] == "Ada"
    assert stored["i-6"]["attrs"]["vip"] is False
    # Each record was written once: one CREATED event per user, none repeated by the resume.
    assert await store.history.count_documents({"appId": tenant.app_id}) == 5
    assert [row[:3] for row in _rejects(tmp_path / "users.csv.rejects.csv")] == [
        ["3", "INVALID_EMAIL", "emails.0"],
        ["5", "TYPE_MISMATCH", "customAttributes.0.value"],
    ]


async def _new_app(data_dir: Path) -> str:
    settings = ensure_local_secrets(Settings(data_dir=data_dir, mongodb_uri=None)).settings
    assert settings.master_key is not None
    store = open_store(settings)
    try:
        await ensure_indexes(store)
        app, _ = await apps.create_app(store, SecretBox(settings.master_key.get_secret_value()), "import test")
        app_id: str = app["_id"]
        return app_id
    finally:
        await store.close()


def test_the_import_command_on_an_embedded_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app_id = asyncio.run(_new_app(data_dir))
    source = tmp_path / "users.ndjson"
    records = [
        {
            "externalUserId": "n-1",
            "emails": ["n1@example.com"],
            "customAttributes": [{"key": "ltv", "value": {"number": "1.5"}}],
        },
        {"externalUserId": "n-2", "birthday": "1990-02-30"},
        {"phones": ["+4915112345678"], "givenName": "Lead"},
    ]
    source.write_text("\n".join(json.dumps(record) for record in records) + "\n{broken\n")
    result = CliRunner().invoke(cli, ["import", str(source), "--app-id", app_id, "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output  # 1: some records were rejected
    assert "Import summary" in result.output
    rejects = _rejects(tmp_path / "users.ndjson.rejects.csv")
    assert [(row[0], row[1]) for row in rejects] == [("2", "INVALID_INPUT"), ("4", "INVALID_INPUT")]
    checkpoint = json.loads((tmp_path / "users.ndjson.checkpoint").read_text())
    assert checkpoint["line"] == 4 and checkpoint["summary"]["imported"] == 2

    unknown = CliRunner().invoke(cli, ["import", str(source), "--app-id", "app_nope", "--data-dir", str(data_dir)])
    assert unknown.exit_code == 2


async def test_lists_and_objects_import_from_csv_and_ndjson(
    tmp_path: Path, store: Store, tenant: Tenant, box: SecretBox
) -> None:
    csv_source = tmp_path / "typed.csv"
    csv_source.write_text(
        "externalUserId,signedUpAt,attr.wishlist:strings,attr.scores:numbers,attr.address:object\n"
        'c-1,1700000000123,iphone12;ipad,1.5;2,"{""city"": ""Zagreb"", ""floor"": 2}"\n'
        'c-2,,"[""a""]",[1],"{""$where"": 1}"\n'
    )
    summary = await run_import(store, tenant.app_id, csv_source, Options(batch_size=10), box=box)
    assert (summary.imported, summary.rejected) == (1, 1)  # c-2: a reserved key inside the object
    ndjson_source = tmp_path / "typed.ndjson"
    record = {
        "externalUserId": "n-1",
        "customAttributes": [
            {"key": "wishlist", "value": {"strings": ["x"]}},
            {"key": "scores", "value": {"numbers": [3, "4.25"]}},
            {"key": "address", "value": {"object": {"geo": {"lat": 45.8}}}},
        ],
    }
    ndjson_source.write_text(json.dumps(record) + "\n")
    summary = await run_import(store, tenant.app_id, ndjson_source, Options(batch_size=10), box=box)
    assert (summary.imported, summary.rejected) == (1, 0)
    stored = {u["externalUserId"]: u async for u in store.users.find({"appId": tenant.app_id})}
    first = stored["c-1"]
    assert first["attrs"]["wishlist"] == ["iphone12", "ipad"]
    assert [str(number) for number in first["attrs"]["scores"]] == ["1.5", "2"]
    assert first["attrs"]["address"]["city"] == "Zagreb" and str(first["attrs"]["address"]["floor"]) == "2"
    assert first["attrMeta"]["address"]["type"] == "OBJECT"
    assert first["signedUpAt"].isoformat().startswith("2023-11-14T22:13:20.123")
    second = stored["n-1"]
    assert [str(number) for number in second["attrs"]["scores"]] == ["3", "4.25"]
    assert second["attrMeta"]["wishlist"]["type"] == "LIST_OF_STRINGS"
