"""The embedded store's SQLite engine keeps mongoeco's answers while skipping its scans.

Each test runs the engine in this process through mongoeco's own client on a temporary
file: what it must keep is the answers (duplicates found, decimals compared exactly); how
fast it gives them is measured by bench/scale.py.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128, ObjectId
from mongoeco import AsyncMongoClient as MongoecoClient
from mongoeco.core.query_plan import compile_filter as compile_mongo_filter
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.engines.sqlite_query import value_expression_sql
from mongoeco.errors import DuplicateKeyError as MongoecoDuplicateKeyError
from pymongo.errors import DuplicateKeyError

from app.domain.attributes import AttributeType, TypedValue
from app.domain.channel_specs import ChannelType
from app.domain.segments import AttributeCondition, UserFilter, compile_filter
from app.store import indexes, outbox, purges, redeliveries, webhooks
from app.store.client import Store
from app.store.embedded_engine import (
    DECLARED_SCALAR_FIELDS,
    EQUALITY_TWIN_PREFIX,
    DeclaredFeatures,
    EmbeddedSQLiteEngine,
)
from app.store.users import with_channel_types

APP_ORDER = value_expression_sql("_id")

DUPLICATE_ERRORS = (DuplicateKeyError, MongoecoDuplicateKeyError)


@pytest.fixture
async def collection(tmp_path: Path) -> AsyncIterator[Any]:
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        yield client["db"]["things"]


@pytest.mark.parametrize("first", ["user-1", ObjectId("6b1138bdde3b10fd93db5df2")], ids=["string", "objectid"])
async def test_an_insert_of_a_held_id_is_still_a_duplicate(collection: Any, first: Any) -> None:
    await collection.insert_many([{"_id": f"other-{n}"} for n in range(20)])
    await collection.insert_one({"_id": first, "n": 1})
    with pytest.raises(DUPLICATE_ERRORS):
        await collection.insert_one({"_id": first, "n": 2})
    assert (await collection.find_one({"_id": first}))["n"] == 1


async def test_numeric_ids_that_are_equal_still_collide(collection: Any) -> None:
    # 1 and 1.0 have different storage keys: only the scan this engine keeps for them finds it.
    await collection.insert_one({"_id": 1})
    with pytest.raises(DUPLICATE_ERRORS):
        await collection.insert_one({"_id": 1.0})


async def test_decimals_in_other_fields_are_still_compared_exactly(collection: Any) -> None:
    await collection.insert_many(
        [
            {"_id": "a", "appId": "app", "ltv": Decimal128("0.3")},
            {"_id": "b", "appId": "app", "ltv": Decimal128("0.30000000000000004")},
            {"_id": "c", "appId": "app", "ltv": 7},
        ]
    )
    found = [doc["_id"] async for doc in collection.find({"appId": "app", "ltv": {"$gt": Decimal128("0.3")}})]
    assert sorted(found) == ["b", "c"]
    # A write in between clears mongoeco's own cache; the answers stay the same.
    await collection.update_one({"_id": "a"}, {"$set": {"ltv": Decimal128(Decimal("0.31"))}})
    found = [doc["_id"] async for doc in collection.find({"appId": "app", "ltv": {"$gt": Decimal128("0.3")}})]
    assert sorted(found) == ["a", "b", "c"]


async def test_an_id_beside_other_fields_and_a_missing_id_are_answered(collection: Any) -> None:
    await collection.insert_many([{"_id": f"u{n}", "appId": "app" if n % 2 else "other"} for n in range(50)])
    assert await collection.find_one({"appId": "app", "_id": "u7"}) == {"_id": "u7", "appId": "app"}
    assert await collection.find_one({"appId": "app", "_id": "u8"}) is None  # another app's
    assert await collection.find_one({"_id": "u-missing"}) is None
    result = await collection.update_one({"_id": "u7", "appId": "app"}, {"$set": {"seen": True}})
    assert result.modified_count == 1


async def test_the_id_expression_index_serves_an_id_beside_other_fields(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(database))) as client:
        await client["db"]["things"].insert_one({"_id": "u1", "appId": "app"})
    # The shape mongoeco compiles {appId, _id} to, read with SQLite's own planner.
    query = (
        "SELECT document FROM documents WHERE db_name = 'db' AND coll_name = 'things'"
        " AND json_extract(document, '$.appId') = 'app' AND json_extract(document, '$._id') = 'u1'"
    )
    with contextlib.closing(sqlite3.connect(database)) as connection:
        plan = " ".join(str(row) for row in connection.execute("EXPLAIN QUERY PLAN " + query))
    assert "profile_gateway_json_id" in plan


def test_declared_fields_are_the_gateways_key_fields() -> None:
    # Attribute values (attrs.*) hold decimals and lists: they must never be declared.
    assert not any(field.startswith(("attrs", "attrMeta")) for field in DECLARED_SCALAR_FIELDS)
    assert {"_id", "appId", "userId"} <= DECLARED_SCALAR_FIELDS


async def test_an_in_on_id_finds_exactly_the_named_documents(collection: Any) -> None:
    await collection.insert_many([{"_id": f"k{n}", "appId": "app"} for n in range(30)])
    await collection.insert_one({"_id": ObjectId("6b1138bdde3b10fd93db5df2"), "appId": "app"})
    wanted = ["k3", "k17", "k-missing", "k29"]
    found = [doc["_id"] async for doc in collection.find({"_id": {"$in": wanted}})]
    assert sorted(found) == ["k17", "k29", "k3"]
    both = {"_id": {"$in": ["k3", "k4"]}, "appId": {"$in": ["app"]}}
    assert await collection.count_documents(both) == 2
    # Other values keep mongoeco's own translation.
    mixed = [
        doc["_id"] async for doc in collection.find({"_id": {"$in": ["k5", ObjectId("6b1138bdde3b10fd93db5df2")]}})
    ]
    assert len(mixed) == 2
    deleted = await collection.delete_many({"_id": {"$in": ["k1", "k2"]}})
    assert deleted.deleted_count == 2


async def test_keyset_pages_of_an_app_come_in_id_order(tmp_path: Path) -> None:
    """The users page shape: one app's live users in _id order, after a cursor."""
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        users = client["db"]["users"]
        ids = [f"{n:024x}" for n in range(300)]
        await users.insert_many([{"_id": value, "appId": "a" if n % 3 else "b"} for n, value in enumerate(ids)])
        await users.update_one({"_id": ids[4]}, {"$set": {"mergedInto": ids[5]}})
        live = [value for n, value in enumerate(ids) if n % 3 and n != 4]
        query: dict[str, Any] = {"appId": "a", "mergedInto": {"$exists": False}}
        seen: list[str] = []
        while True:
            page_query = {**query, "_id": {"$gt": seen[-1]}} if seen else query
            page = [doc["_id"] async for doc in users.find(page_query, sort=[("_id", 1)], limit=51)]
            if not page:
                break
            seen += page
        assert seen == live
        older = {"appId": "a", "_id": {"$lte": ids[10]}}
        backwards = [doc["_id"] async for doc in users.find(older, sort=[("_id", -1)])]
        assert backwards == [value for n, value in reversed(list(enumerate(ids))) if n % 3 and n <= 10]


async def test_a_string_range_on_id_matches_strings_only(collection: Any) -> None:
    await collection.insert_many(
        [{"_id": "m"}, {"_id": "z"}, {"_id": 5}, {"_id": ObjectId("6b1138bdde3b10fd93db5df2")}]
    )
    assert [doc["_id"] async for doc in collection.find({"_id": {"$gte": "a"}}, sort=[("_id", 1)])] == ["m", "z"]
    assert [doc["_id"] async for doc in collection.find({"_id": {"$lt": "n"}})] == ["m"]


def test_the_app_order_index_is_what_a_page_needs(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite"
    engine = EmbeddedSQLiteEngine(str(database))
    engine._connect_sync()
    try:
        # The shape mongoeco compiles a users page to, read with SQLite's own planner.
        query = (
            "SELECT document FROM documents WHERE db_name = 'db' AND coll_name = 'users'"
            " AND json_extract(document, '$.appId') = 'a'"
            f" AND {APP_ORDER} > 'x' ORDER BY {APP_ORDER} ASC LIMIT 51"
        )
        with contextlib.closing(sqlite3.connect(database)) as connection:
            plan = " ".join(str(row) for row in connection.execute("EXPLAIN QUERY PLAN " + query))
    finally:
        engine._disconnect_sync()
    assert "profile_gateway_app_id_order" in plan
    assert "TEMP B-TREE" not in plan  # read in index order, not sorted afterwards


async def test_writes_leave_no_change_feed_behind(tmp_path: Path) -> None:
    """The embedded store keeps no change feed (the gateway opens no change stream): its
    writes, in transactions or not, record nothing in mongoeco's change table."""
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path), change_outbox_max_entries=20)) as client:
        things = client["db"]["things"]
        for n in range(30):
            async with client.start_session() as session:
                session.start_transaction()
                await things.insert_one({"_id": f"t{n}"}, session=session)
                await things.update_one({"_id": f"t{n}"}, {"$set": {"n": n}}, session=session)
                session.commit_transaction()
            await things.update_one({"_id": f"t{n}"}, {"$inc": {"n": 1}})
        await things.delete_one({"_id": "t0"})
        assert await things.count_documents({"n": {"$gte": 1}}) == 29
        with contextlib.closing(sqlite3.connect(path)) as connection:
            (recorded,) = connection.execute("SELECT COUNT(*) FROM change_outbox").fetchone()
    assert recorded == 0


class ThreadRecordingEngine(EmbeddedSQLiteEngine):
    """Notes the thread each single-document write and each batch read runs on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: dict[str, set[int]] = {"write": set(), "scan": set()}

    def _update_with_operation_sync(self, *args: Any, **kwargs: Any) -> Any:
        self.threads["write"].add(threading.get_ident())
        return super()._update_with_operation_sync(*args, **kwargs)

    def _insert_document_sync(self, *args: Any, **kwargs: Any) -> Any:
        self.threads["write"].add(threading.get_ident())
        return super()._insert_document_sync(*args, **kwargs)

    def _insert_documents_sync(self, *args: Any, **kwargs: Any) -> Any:
        self.threads["scan"].add(threading.get_ident())
        return super()._insert_documents_sync(*args, **kwargs)


async def test_single_document_writes_run_on_the_stores_loop_and_batches_on_its_workers(tmp_path: Path) -> None:
    """A thread hand-off per command cost the store more than a one-document write does;
    a batch insert, whose length the caller chooses, still leaves the loop free."""
    engine = ThreadRecordingEngine(str(tmp_path / "store.sqlite"))
    async with MongoecoClient(engine) as client:
        things = client["db"]["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n} for n in range(50)])
        await things.insert_one({"_id": "one", "n": 0})
        async with client.start_session() as session:
            session.start_transaction()
            await things.update_one({"_id": "one"}, {"$inc": {"n": 1}}, session=session)
            await things.insert_one({"_id": "two", "n": 2}, session=session)
            session.commit_transaction()
        assert (await things.find_one({"_id": "one"}) or {})["n"] == 1
        assert await things.count_documents({}) == 52
    assert engine.threads["write"] == {threading.get_ident()}
    assert threading.get_ident() not in engine.threads["scan"]


# The filter of a guarded attribute write (app/domain/operations.py: Plan.filter): a type
# guard on attrMeta and the attribute-count limit as an $expr, beside the user's _id.
GUARDED_UPDATE: dict[str, Any] = {
    "appId": "app",
    "mergedInto": {"$exists": False},
    "$and": [{"$or": [{"attrMeta.visits": {"$exists": False}}, {"attrMeta.visits.type": "NUMBER"}]}],
    "$expr": {"$lte": [{"$size": {"$objectToArray": {"$ifNull": ["$attrs", {}]}}}, 100]},
}


async def test_a_guarded_update_naming_an_id_reads_that_document_only(tmp_path: Path) -> None:
    """SQL cannot express the guards, so mongoeco read every document of the collection (and
    asked of every one whether it holds arrays or decimals at each guarded path): a guarded
    write took 55 ms at 1,000 users instead of 3. Naming an _id, it is read by its key."""
    engine = EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))
    async with MongoecoClient(engine) as client:
        users = client["db"]["users"]
        await users.insert_many(
            [{"_id": f"u{n}", "appId": "app", "attrs": {"visits": n}, "attrMeta": {}} for n in range(40)]
        )
        statements: list[str] = []
        engine._require_connection().set_trace_callback(statements.append)
        updated = await users.find_one_and_update(
            {"_id": "u7", **GUARDED_UPDATE}, {"$inc": {"attrs.visits": 1}}, return_document=True
        )
        engine._require_connection().set_trace_callback(None)
    assert updated is not None and updated["attrs"]["visits"] == 8
    reads = [" ".join(sql.split()) for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    over_documents = [sql for sql in reads if "FROM documents" in sql]
    assert over_documents and all("storage_key =" in sql for sql in over_documents), over_documents


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ({"_id": "u1", **GUARDED_UPDATE, "appId": "other-app"}, "another app's"),
        ({"_id": "u2", **GUARDED_UPDATE}, "a guard fails"),
        ({"_id": "u3", **GUARDED_UPDATE}, "merged"),
        ({"_id": "u-missing", **GUARDED_UPDATE}, "no such document"),
        ({"_id": "u1", "version": 4, "appId": "app"}, "another version"),
    ],
)
async def test_a_guarded_update_naming_an_id_still_applies_every_condition(
    collection: Any, selector: dict[str, Any], why: str
) -> None:
    await collection.insert_many(
        [
            {"_id": "u1", "appId": "app", "version": 3, "attrMeta": {}},
            {"_id": "u2", "appId": "app", "attrMeta": {"visits": {"type": "STRING"}}},
            {"_id": "u3", "appId": "app", "attrMeta": {}, "mergedInto": "u1"},
        ]
    )
    before = [document async for document in collection.find({})]
    assert await collection.find_one_and_update(selector, {"$set": {"touched": True}}) is None, why
    assert [document async for document in collection.find({})] == before
    assert await collection.find_one_and_update({"_id": "u1", **GUARDED_UPDATE}, {"$set": {"touched": True}})


def _document_indexes(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'documents' AND name LIKE 'idx_%'"
        ).fetchall()
    return {name: sql for name, sql in rows}


async def test_each_collections_indexes_hold_that_collection_only(tmp_path: Path) -> None:
    """mongoeco keeps every collection in one table, and each of its indexes there covered
    every row: an insert into any collection computed all of them (0.35 of an update's
    0.5 ms of SQL at 25 indexes). Scoped to their collection, they still serve its queries."""
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
        users, history = client["db"]["users"], client["db"]["history"]
        await users.create_index([("appId", 1), ("tags", 1)], name="tags")
        await history.create_index([("appId", 1), ("userId", 1)], name="user")
        await users.insert_many([{"_id": f"u{n}", "appId": "app", "tags": [f"t{n % 3}"]} for n in range(30)])
        await history.insert_many([{"_id": f"h{n}", "appId": "app", "userId": f"u{n}"} for n in range(30)])
        assert sorted([d["_id"] async for d in users.find({"appId": "app", "tags": "t1"})])[:2] == ["u1", "u10"]
        assert [d["_id"] async for d in history.find({"appId": "app", "userId": "u7"})] == ["h7"]
    indexes = _document_indexes(path)
    assert len(indexes) == 2
    assert sorted(sql.rsplit(" WHERE ", 1)[1] for sql in indexes.values()) == [
        "db_name = 'db' AND coll_name = 'history'",
        "db_name = 'db' AND coll_name = 'users'",
    ]
    # SQLite plans a parameterised namespace onto the partial index (and re-plans per value):
    # the index's leading expression after the namespace, as the engine writes it.
    appid_type = "COALESCE(json_extract(document, '$.appId.\"$mongoeco\".type'), '')"
    assert all(appid_type in sql for sql in indexes.values())
    query = f"SELECT 1 FROM documents WHERE db_name = ? AND coll_name = ? AND {appid_type} = ?"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {query}", ("db", "history", "")).fetchall()
    assert any(name in str(plan) for name in indexes), plan


async def test_a_store_built_before_gets_its_indexes_scoped_and_its_twins_when_it_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(SQLiteEngine(str(path))) as client:  # mongoeco's own engine
        await client["db"]["users"].create_index([("appId", 1), ("tags", 1)], name="tags")
        await client["db"]["users"].insert_many([{"_id": f"u{n}", "appId": "app", "tags": ["a"]} for n in range(5)])
        await client["db"]["sessions"].create_index([("appId", 1), ("userId", 1)], name="user")
        await client["db"]["sessions"].insert_many([{"_id": "s3", "appId": "app", "userId": "u3"}])
    assert not any(" WHERE " in sql for sql in _document_indexes(path).values())
    assert _twins(path) == {}
    with caplog.at_level(logging.INFO, logger="app.store.embedded_engine"):
        async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
            assert await client["db"]["users"].count_documents({"appId": "app", "tags": "a"}) == 5
            sessions = client["db"]["sessions"]
            assert [d["_id"] async for d in sessions.find({"appId": "app", "userId": "u3"})] == ["s3"]
            assert EQUALITY_TWIN_PREFIX in await _plan(sessions, {"appId": "app", "userId": "u3"})
    scopes = sorted(sql.rsplit(" WHERE ", 1)[1] for sql in _document_indexes(path).values())
    assert scopes == ["db_name = 'db' AND coll_name = 'sessions'", "db_name = 'db' AND coll_name = 'users'"]
    assert len(_twins(path)) == 1
    assert [record.getMessage() for record in caplog.records] == [
        "scoped 2 SQL indexes to their collections",
        "built 1 SQLite equality indexes",
    ]


async def test_indexes_created_on_a_new_store_are_scoped_without_an_info_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "store.sqlite"
    with caplog.at_level(logging.INFO, logger="app.store.embedded_engine"):
        async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
            for field in ("a", "b", "c"):
                await client["db"]["users"].create_index([("appId", 1), (field, 1)], name=field)
    assert caplog.records == []  # a start-up on a new store is not 25 log lines
    assert all(" WHERE " in sql for sql in _document_indexes(path).values())


class _Loads:
    count = 0


def _count_whole_collection_loads(engine: EmbeddedSQLiteEngine) -> _Loads:
    """From now on, count mongoeco's loads of a whole collection for matching in Python."""
    loads = _Loads()
    load_documents = engine._load_documents

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.count += 1
        return load_documents(*args, **kwargs)

    engine._load_documents = counted  # type: ignore[method-assign]
    return loads


async def test_a_list_attribute_filter_runs_in_sql(tmp_path: Path) -> None:
    """`contains` on a list attribute: as `$elemMatch` mongoeco decoded every document of the
    collection in Python (a page over 50,000 users: 3.8 s); as equality guarded by the list
    type it is compiled to SQL over the attribute's path (0.9 s with no user matching)."""
    condition = AttributeCondition(key="wishlist", contains=TypedValue(AttributeType.STRING, "ipad"))
    query = compile_filter("app", UserFilter(attributes=[condition]))
    engine = EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))
    async with MongoecoClient(engine) as client:
        users = client["db"]["users"]
        lists = {"wishlist": {"type": "LIST_OF_STRINGS"}}
        await users.insert_many(
            [
                {"_id": "a", "appId": "app", "attrs": {"wishlist": ["iphone", "ipad"]}, "attrMeta": lists},
                {
                    "_id": "b",
                    "appId": "app",
                    "attrs": {"wishlist": "ipad"},
                    "attrMeta": {"wishlist": {"type": "STRING"}},
                },
                {"_id": "c", "appId": "app", "attrs": {"wishlist": ["pixel"]}, "attrMeta": lists},
            ]
        )
        loads = _count_whole_collection_loads(engine)
        found = [user["_id"] async for user in users.find(query).sort("_id", 1)]
        counted_users = (await client["db"].command({"count": "users", "query": query}))["n"]
    assert found == ["a"] and counted_users == 1
    assert loads.count == 0


async def test_a_channel_type_filter_runs_in_sql(tmp_path: Path) -> None:
    """hasChannel matches the top-level ``channelTypes``; on ``channels.type``, a path into
    the list of channel documents, mongoeco decoded every user of the collection in Python
    (a page over 20,000 users: 0.8-1.1 s, against 5-37 ms)."""
    query = compile_filter("app", UserFilter(has_channel=ChannelType.SMS))
    engine = EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))
    async with MongoecoClient(engine) as client:
        users = client["db"]["users"]
        await users.insert_many(
            [
                with_channel_types({"_id": "a", "appId": "app", "channels": [{"type": "SMS"}, {"type": "EMAIL"}]}),
                with_channel_types({"_id": "b", "appId": "app", "channels": [{"type": "EMAIL"}]}),
                with_channel_types({"_id": "c", "appId": "other", "channels": [{"type": "SMS"}]}),
            ]
        )
        loads = _count_whole_collection_loads(engine)
        found = [user["_id"] async for user in users.find(query).sort("_id", 1)]
        assert found == ["a"] and loads.count == 0
        # What the check catches: the path into the channel documents is decoded in Python.
        await users.find({"appId": "app", "channels.type": "SMS"}).to_list()
    assert loads.count == 1


def _twins(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE ?", (f"{EQUALITY_TWIN_PREFIX}%",)
        ).fetchall()
    return {name: sql for name, sql in rows}


async def _plan(collection: Any, query: dict[str, Any], sort: dict[str, int] | None = None) -> str:
    command: dict[str, Any] = {"find": collection.name, "filter": query}
    if sort:
        command["sort"] = sort
    explained = await collection.database.command({"explain": command, "verbosity": "queryPlanner"})
    return " ".join(explained["details"]["engine_details"])


async def test_a_device_or_session_of_a_user_is_found_through_an_index_not_a_scan(tmp_path: Path) -> None:
    """mongoeco's compound indexes hold each field's tagged form, which no filter's equality
    compiles to: {appId, userId} read every installation of the store (28 ms at 8,000, growing).
    Each compound index of equality fields has a twin over the expressions the filter uses."""
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
        installations = client["db"]["installations"]
        await installations.create_index([("appId", 1), ("userId", 1)], name="user")
        await installations.create_index([("appId", 1), ("pushRegistrationId", 1)], name="push_registration_id")
        await installations.create_index(
            [("appId", 1), ("userId", 1), ("isPrimaryDevice", 1)],
            name="primary",
            unique=True,
            partial_filter_expression={"isPrimaryDevice": True},
        )
        documents = [
            {
                "_id": f"i{n}",
                "appId": "app" if n % 2 else "other",
                "userId": f"u{n % 10}",
                "pushRegistrationId": f"r{n}",
            }
            for n in range(40)
        ]
        await installations.insert_many(documents)
        by_user = {"appId": "app", "userId": "u3"}
        assert sorted([d["_id"] async for d in installations.find(by_user)]) == ["i13", "i23", "i3", "i33"]
        assert EQUALITY_TWIN_PREFIX in await _plan(installations, by_user)
        by_users = {"appId": "app", "userId": {"$in": ["u3", "u5", "u-none"]}}
        found = [d["_id"] async for d in installations.find(by_users, sort=[("_id", 1)])]
        assert found == ["i13", "i15", "i23", "i25", "i3", "i33", "i35", "i5"]
        assert EQUALITY_TWIN_PREFIX in await _plan(installations, by_users, {"createdAt": 1})
        by_device = {"appId": "app", "pushRegistrationId": "r7"}
        assert [d["_id"] async for d in installations.find(by_device)] == ["i7"]
        assert EQUALITY_TWIN_PREFIX in await _plan(installations, by_device)
        # The app comes last in a twin: an _id with its app still goes through the _id index.
        assert "profile_gateway_json_id" in await _plan(installations, {"appId": "app", "_id": "i7"})
        # One twin per collection and prefix (the primary index shares the user's), and a
        # twin goes with the index it serves.
        assert len(_twins(path)) == 2
        await installations.drop_index("push_registration_id")
        assert len(_twins(path)) == 1
        await installations.drop_index("user")
        assert len(_twins(path)) == 1  # the user prefix is still the primary index's
        await installations.drop_index("primary")
        assert _twins(path) == {}


async def test_fields_of_ranges_get_no_twin(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
        await client["db"]["users"].create_index([("appId", 1), ("createdAt", -1), ("_id", -1)], name="created")
        await client["db"]["outbox"].create_index([("appId", 1), ("seq", 1)], name="app_seq")
    assert _twins(path) == {}


async def test_a_users_history_is_read_newest_first_in_index_order(tmp_path: Path) -> None:
    """A history page: one user's events newest first by _id (an ObjectId), after a cursor.
    The twin of the (appId, userId, _id) index carries the _id order, so a page reads its
    events in order instead of sorting all of the user's history (98 ms at 30,000 events)."""
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
        history = client["db"]["history"]
        await history.create_index([("appId", 1), ("userId", 1), ("_id", -1)], name="user")
        events = [{"_id": ObjectId(), "appId": "app" if n % 3 else "other", "userId": f"u{n % 2}"} for n in range(60)]
        await history.insert_many(events)
        query: dict[str, Any] = {"appId": "app", "userId": "u1"}
        mine = sorted((e["_id"] for e in events if e["appId"] == "app" and e["userId"] == "u1"), reverse=True)
        seen: list[ObjectId] = []
        while True:
            page_query = {**query, "_id": {"$lt": seen[-1]}} if seen else query
            page = [doc["_id"] async for doc in history.find(page_query, sort=[("_id", -1)], limit=7)]
            if not page:
                break
            seen += page
        assert seen == mine
        plan = await _plan(history, {**query, "_id": {"$lt": mine[3]}}, {"_id": -1})
        assert EQUALITY_TWIN_PREFIX in plan
        assert "TEMP B-TREE" not in plan  # read in the twin's order, not sorted afterwards
        # The twin holds the _id order after the user and the app.
        assert "$._id" in next(iter(_twins(path).values()))


async def test_housekeepings_reads_take_each_owners_oldest_through_its_index(tmp_path: Path) -> None:
    """Purges and retention read an owner's oldest documents (an erased user's history and
    tombstones, an endpoint's deliveries, an app's change events): through the owner's own index, in its
    order, never sorting all of them (app/store/purges.py, app/store/retention.py)."""
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        store = Store(client=client, db=client["db"])
        await indexes.ensure_indexes(store)
        now = datetime.now(UTC)
        await store.history.insert_many([{"_id": ObjectId(), "appId": "a", "userId": f"u{n % 2}"} for n in range(40)])
        await webhooks.deliveries(store).insert_many(
            [
                {"_id": webhooks.delivery_id("e", n), "endpointId": "e", "seq": n, "occurredAt": now}
                for n in range(1, 40)
            ]
        )
        await outbox.events(store).insert_many(
            [{"_id": outbox.entry_id("a", n), "appId": "a", "seq": n, "occurredAt": now} for n in range(1, 40)]
        )
        await store.users.insert_many(
            [{"_id": f"t{n:02d}", "appId": "a", "mergedInto": f"u{n % 2}"} for n in range(40)]
            + [{"_id": f"live{n:02d}", "appId": "a"} for n in range(10)]
        )
        reads = [
            (store.history, {"appId": "a", "userId": "u1"}, {"_id": 1}),
            (store.users, {"appId": "a", "mergedInto": "u1"}, {"_id": 1}),  # tombstones to repoint or purge
            (webhooks.deliveries(store), {"endpointId": "e"}, {"seq": 1}),
            (outbox.events(store), outbox.numbered_after("a", 0), {"_id": 1}),
        ]
        for collection, query, order in reads:
            plan = await _plan(collection, query, order)
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (collection.name, plan)
            oldest = await purges.ids_in_order(collection, query, next(iter(order)), 5)
            everything = [doc["_id"] async for doc in collection.find(query)]
            assert oldest == sorted(everything)[:5]  # the owner's first five in its order


class _AskedQuestions(DeclaredFeatures):
    """The engine's feature cache, noting each answer mongoeco had to work out by reading the
    collection (an answer the declaration gives is never stored)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str, str]] = []

    def __setitem__(self, key: tuple[str, str, str], value: bool | str) -> None:
        self.asked.append(key)
        super().__setitem__(key, value)


async def test_the_webhook_dispatchers_reads_are_served_in_order_and_ask_the_collection_nothing(
    tmp_path: Path,
) -> None:
    """After any write mongoeco forgets what it knows of a collection's field types and reads
    every document to ask again; the dispatcher's round (pending, due and free deliveries of
    its endpoints), an endpoint's pending deliveries and its pages asked about the schedule
    dates and the seq order, then sorted the endpoint's deliveries: at 40,000 deliveries
    500 / 80 / 128 ms. The fields are declared and each endpoint's twins hold the seq order."""
    path = tmp_path / "store.sqlite"
    engine = EmbeddedSQLiteEngine(str(path))
    questions = _AskedQuestions()
    engine._cache_state.collection_features_cache = questions
    now = datetime.now(UTC)
    async with MongoecoClient(engine) as client:
        deliveries = client["db"]["webhook_deliveries"]
        await deliveries.create_index([("endpointId", 1), ("seq", 1)], name="endpoint_seq")
        await deliveries.create_index([("endpointId", 1), ("status", 1), ("seq", 1)], name="endpoint_status")
        documents = [
            {
                "_id": webhooks.delivery_id(endpoint, seq),
                "endpointId": endpoint,
                "seq": seq,
                "status": webhooks.PENDING if seq % 4 == 0 else "DELIVERED",
                "occurredAt": now,
                "nextAttemptAt": now - timedelta(seconds=seq % 3),  # some are not due yet
                "leaseUntil": now,
            }
            for endpoint in ("e0", "e1")
            for seq in range(1, 41)
        ]
        documents[-1]["nextAttemptAt"] = now + timedelta(hours=1)
        await deliveries.insert_many(list(reversed(documents)))
        questions.asked.clear()
        pending = {"endpointId": "e0", "status": webhooks.PENDING}
        assert [d["seq"] async for d in deliveries.find(pending, sort=[("seq", 1)], limit=3)] == [4, 8, 12]
        page = {"endpointId": "e1", "seq": {"$gt": 9}}
        assert [d["seq"] async for d in deliveries.find(page, sort=[("seq", 1)], limit=4)] == [10, 11, 12, 13]
        page_pending = {**page, "status": webhooks.PENDING}
        assert [d["seq"] async for d in deliveries.find(page_pending, sort=[("seq", 1)], limit=2)] == [12, 16]
        due = {"endpointId": {"$in": ["e0", "e1", "e9"]}, **webhooks._pending_due_and_free(now)}
        assert sorted(await deliveries.distinct("endpointId", due)) == ["e0", "e1"]
        # A date's comparison question is answered at once, without a read (mongoeco keeps
        # BSON's order for tagged values); every other answer here would have read the collection.
        read = [key for key in questions.asked if key[1] == "webhook_deliveries" and not key[2].endswith(":datetime")]
        assert read == []
        for query in (pending, page, page_pending):
            plan = await _plan(deliveries, query, {"seq": 1})
            assert EQUALITY_TWIN_PREFIX in plan and "TEMP B-TREE" not in plan, plan


async def test_a_collection_read_per_app_is_read_through_its_app_index(tmp_path: Path) -> None:
    """Preference categories are read per request for the apps a query names, by ``{appId:
    {$in}}``: without a twin of their app index that read every app's categories."""
    path = tmp_path / "store.sqlite"
    async with MongoecoClient(EmbeddedSQLiteEngine(str(path))) as client:
        categories = client["db"]["preference_categories"]
        await categories.create_index([("appId", 1)], name="app")
        await categories.insert_many(
            [{"_id": f"app{n % 7}:c{n}", "appId": f"app{n % 7}", "name": f"c{n:02d}"} for n in range(70)]
        )
        query = {"appId": {"$in": ["app3", "app5"]}}
        found = [doc["name"] async for doc in categories.find(query, sort=[("name", 1)])]
        assert found == sorted(f"c{n:02d}" for n in range(70) if n % 7 in (3, 5))
        assert EQUALITY_TWIN_PREFIX in await _plan(categories, query, {"name": 1})


async def test_a_redeliverys_reads_go_through_the_endpoints_index_in_seq_order(tmp_path: Path) -> None:
    """A redelivery reads the endpoint's newest delivery, then walks its deliveries after a
    cursor (app/store/redeliveries.py): both through the (endpointId, seq) twin, never sorting
    the endpoint's deliveries."""
    async with MongoecoClient(EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))) as client:
        store = Store(client=client, db=client["db"])
        await indexes.ensure_indexes(store)
        now = datetime.now(UTC)
        await webhooks.deliveries(store).insert_many(
            [
                {"_id": webhooks.delivery_id(endpoint, n), "endpointId": endpoint, "seq": n, "occurredAt": now}
                for endpoint in ("e", "f")
                for n in range(1, 40)
            ]
        )
        newest = await _plan(webhooks.deliveries(store), {"endpointId": "e"}, {"seq": -1})
        walk = await _plan(webhooks.deliveries(store), {"endpointId": "e", "seq": {"$gt": 10, "$lte": 30}}, {"seq": 1})
        for plan in (newest, walk):
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
        walked = await redeliveries.schedule(store, "a", "e", now, now)
        assert walked is not None and walked["upTo"] == 39
        batch = await redeliveries.run_batch(store, walked, now)
        assert (batch.queued, batch.read, batch.rest) == (39, 39, None)
        assert await webhooks.deliveries(store).count_documents({"endpointId": "f", "status": "PENDING"}) == 0


async def test_an_empty_in_matches_nothing_without_reading_the_collection(tmp_path: Path) -> None:
    """A look-up of no users' installations (``{userId: {$in: []}}``) read every document of
    the collection to find nothing: 370 ms at 10,000 installations. It compiles to a constant
    false now, which SQLite answers without reading a row."""
    engine = EmbeddedSQLiteEngine(str(tmp_path / "store.sqlite"))
    async with MongoecoClient(engine) as client:
        installations = client["db"]["installations"]
        await installations.insert_many([{"_id": f"i{n}", "appId": "app", "userId": f"u{n}"} for n in range(50)])
        plan = compile_mongo_filter({"userId": {"$in": []}})
        assert engine._translate_query_plan_with_multikey("db", "installations", plan) == ("0", [])
        assert await installations.find({"appId": "app", "userId": {"$in": []}}).to_list() == []
        # Non-empty ones keep finding what they name.
        assert len(await installations.find({"appId": "app", "userId": {"$in": ["u3", "u9"]}}).to_list()) == 2
