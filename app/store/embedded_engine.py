"""The embedded store's SQLite engine, without the costs that grew with a collection.

mongoeco's SQLite engine keeps each document as JSON in one table keyed by its ``_id``.
Measured in a profile of the embedded store (bench/README.md, "Where the store's time
goes"), two of its checks read every document of a collection on every write, so writes
slowed down linearly as profiles grew:

- **Inserting a document scans the collection for an equal ``_id``.** The engine looks the
  new ``_id`` up by its storage key and then, for every insert, also compares it with every
  stored ``_id``. For numeric ids, whose equal values (1, 1.0, Decimal128("1")) have
  different storage keys, mongoeco makes that comparison anyway; for every other id (the
  gateway's are strings and ObjectIds) the storage key is its identity, so the second pass
  is skipped.
- **Planning a query asks, per field it names, whether any stored document holds an array,
  a Decimal128, bytes or ``undefined`` there** (one ``json_extract`` over every document per
  question) to choose between SQL and a Python fallback. The answers are cached, but every
  write and every transaction's end clears the cache, so under writes each query asked
  again. The gateway's own key fields (``DECLARED_SCALAR_FIELDS``) hold only strings,
  ObjectIds, integers, booleans and dates in every collection it writes, never an array
  or one of those tagged types, so those questions are answered from that declaration and
  no longer read the collection. Any other field is asked as before.

A third cost is in its SQL: a filter naming ``_id`` beside other fields (``{appId, _id}``),
or a look-up by ``_id`` that finds nothing, is compiled to ``json_extract(document,
'$._id') = ?`` over the collection rather than to the primary key. One SQLite expression
index on exactly that expression (``ID_INDEX``) serves those queries. An ``$in`` on
``_id`` is compiled to an OR of terms that also look into arrays (an ``_id`` is never
one), which no index serves; an ``$in`` of strings on ``_id`` (or on another declared
field) is compiled to ``json_extract(document, '$._id') IN (...)`` instead, which the same
index serves (a bulk write's 400 registry keys: 570 ms → 1.4 ms at 10,000 users).

mongoeco builds a compound index over each field's tagged form (``COALESCE`` of a type tag
and the value), but compiles a filter's equality on a string to ``json_extract(document,
'$.f') = ?``: SQLite cannot match the two, so no compound index served a query, and the
look-ups of a user's installations, sessions, history and registry entries, and of an
installation by its pushRegistrationId, read every such document of the store (28 ms at
8,000 installations, growing). Every compound index that starts with fields the gateway
compares for equality (``EQUALITY_FIELDS``) gets a twin over exactly those ``json_extract``
expressions, partial to its collection, the app last (so that ``{appId, _id}`` keeps to the
``_id`` index); a twin is dropped with the last index it serves. An ``$in`` of strings on a
declared field is compiled like one on ``_id`` (below), so the twins serve a DataLoader's
look-up of several users' installations too.

A page of an app's users (``{appId, mergedInto: {$exists: false}}`` in ``_id`` order, after
a cursor) is compiled to an ``ORDER BY`` over the collection after two more sort-type scans;
the ``_id`` type of the users collection is declared (``DECLARED_ORDERS``), a string
range on ``_id`` is compiled to the expression the page is ordered by, and one expression
index (``APP_ORDER_INDEX``: ``_id`` order, then the app) lets SQLite read just the page.
A user's history page (``{appId, userId}`` newest first by ``_id``, an ObjectId) read all of
the user's events and sorted them (98 ms at 30,000 events): history's ``_id`` type is
declared too, an ObjectId range on it compiles to the same order expression, and the twin of
an index that continues with a declared order holds that order last. Webhook deliveries are
read per endpoint in ``seq`` order, and the dispatcher's round filters on their schedule
dates: those dates are declared scalars, and the deliveries' integer ``seq`` is a declared
order like history's ``_id``.

An update whose filter names an ``_id`` beside conditions SQL cannot express (the guards
of an attribute write on ``attrs.<key>``, an ``$expr``) was planned condition by condition,
each asking of every document whether it holds arrays or decimals there, and then answered
by loading and matching every document: 55-65 ms at 1,000 users. That document is the only
candidate, so it is read by its key and the whole filter is matched on it (2.4-3.6 ms, as
for an unguarded update).

mongoeco keeps every collection in one ``documents`` table and builds each collection's
indexes there as SQLite expression indexes over the whole table: every insert and update,
of any collection, computed all of them (25 for the gateway's collections; 0.35 of an
update's 0.5 ms of SQL). Each is made partial to its own collection (``WHERE db_name = …
AND coll_name = …``; an index built before is rebuilt once when the store opens). SQLite
plans the engine's parameterised namespace onto such an index and re-plans per value;
only an explicit ``hint`` (``INDEXED BY``), which the gateway never sends, cannot use one.

mongoeco also keeps a change feed for change streams: every write serialises the whole
document again into a change table (a read, two inserts and a pruning statement per
write), and after every commit a heartbeat thread reads those changes back and commits a
checkpoint per change; together about a sixth of the store's CPU per write. The gateway
opens no change stream (its change feed is its own outbox collection), so this engine
declares no change delivery and records no changes: ``watch()`` against the embedded
store sees nothing.

mongoeco runs every operation on a worker thread and wakes the store's loop when it is
done; for a write of one document or a look-up by ``_id`` (about a millisecond of work)
that hand-off cost more than the work: about a tenth of the store's CPU for a single-user
write. Those operations (``INLINE_OPERATIONS``) run on the store's loop; scans, counts and
batch inserts, whose length a request chooses, keep the worker threads, so the loop keeps
serving other connections meanwhile.

All of these are the embedded store's only: MongoDB has none of these costs. The engine is used by
``EmbeddedServer`` only (docs/operations/embedded-store.md lists it with the other
embedded-only measures).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bson import ObjectId
from mongoeco.compat.base import MONGODB_DIALECT_80
from mongoeco.core.filtering import QueryEngine
from mongoeco.core.operation_context import ChangePublicationPolicy, OperationContext
from mongoeco.core.query_plan import (
    AndCondition,
    EqualsCondition,
    GreaterThanCondition,
    GreaterThanOrEqualCondition,
    InCondition,
    LessThanCondition,
    LessThanOrEqualCondition,
    QueryNode,
)
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.engines.sqlite_query import value_expression_sql

# Fields that, in every collection the gateway writes, hold one scalar (a string, an
# ObjectId, an integer, a boolean or a date) or null: never an array, a Decimal128, bytes or
# undefined. Keep it to fields the gateway itself writes with those types.
DECLARED_SCALAR_FIELDS = frozenset(
    {
        "_id",
        "appId",
        "userId",
        "mergedInto",
        "seq",
        "endpointId",
        "status",
        "expiresAt",
        "pushRegistrationId",
        "version",  # guards of writes that read their document first
        "createdAt",  # set by the gateway (a date) in every collection; installations are read in its order
        # webhook deliveries' schedule and age (dates): the dispatcher's round filters on them
        "nextAttemptAt",
        "leaseUntil",
        "occurredAt",
    }
)
# (collection, field) → the one type that field holds in every document there, for the fields
# the gateway reads in order: each is sorted and ranged by its value expression, and the
# twins of indexes that continue with it hold that order.
# - users' _id: ObjectId text (app/store/ids.py); outbox's: "<appId>:<seq>", read by range.
# - history's _id: an ObjectId (app/store/history.new_event_id), read per user newest first.
#   mongoeco stores one as {"$mongoeco": {"type": "objectid", "value": <24 hex digits>}}: the
#   value expression orders them as MongoDB does (fixed-length hex).
# - webhook deliveries' seq: an integer, read per endpoint (pending ones, and pages).
DECLARED_ORDERS: dict[tuple[str, str], str] = {
    ("users", "_id"): "string",
    ("outbox", "_id"): "string",
    ("history", "_id"): "objectid",
    ("webhook_deliveries", "seq"): "number",
}
# mongoeco's synchronous operations that touch one document (by _id or through an index)
# and so finish in about a millisecond. Scans, counts and batch inserts are not listed.
INLINE_OPERATIONS = frozenset(
    {
        "_get_document_sync",
        "_insert_document_sync",
        "_update_with_operation_sync",
        "_delete_matching_document_sync",
        "_merge_document_sync",
    }
)

# The expressions must be the ones mongoeco's SQL compares and sorts by, for SQLite to use
# the indexes: _id look-ups; documents in _id order with their app (keyset pages: read in
# order, the app checked in the index). The order comes first so that a look-up naming an
# _id and an app still prefers the _id index.
ID_INDEX = (
    "CREATE INDEX IF NOT EXISTS profile_gateway_json_id"
    " ON documents(db_name, coll_name, json_extract(document, '$._id'))"
)
_ID_ORDER = value_expression_sql("_id")
APP_ORDER_INDEX = (
    "CREATE INDEX IF NOT EXISTS profile_gateway_app_id_order"
    f" ON documents(db_name, coll_name, {_ID_ORDER}, json_extract(document, '$.appId'))"
)
# mongoeco builds a compound index over each field's tagged form (COALESCE of its type and
# value), while a filter's equality on a string compiles to json_extract(document, '$.f') = ?:
# no compound index served a query, so {appId, userId} read every installation, session or
# history entry of the store. Each compound index led by equality fields gets a twin over
# exactly those json_extract expressions, partial to its collection.
EQUALITY_TWIN_PREFIX = "profile_gateway_eq_"
# Declared scalars that filters compare for equality (an app, a user, a device, a redirect, an
# endpoint and a delivery state); times, versions and sequence numbers are ranges or guards.
EQUALITY_FIELDS = frozenset({"appId", "userId", "pushRegistrationId", "mergedInto", "endpointId", "status"})
_RANGES: dict[type[QueryNode], str] = {
    GreaterThanCondition: ">",
    GreaterThanOrEqualCondition: ">=",
    LessThanCondition: "<",
    LessThanOrEqualCondition: "<=",
}
log = logging.getLogger(__name__)

# A partial index's definition ends in its WHERE clause over the namespace columns.
_PARTIAL = re.compile(r"\)\s+WHERE\s+db_name\s*=", re.IGNORECASE)
# The planner's questions (feature-cache keys) that the declaration answers: "no".
_TAGGED_TYPES = frozenset({"decimal", "decimal128", "decimal128_public", "bytes", "undefined"})


def _declared_answer(collection: str, feature: str) -> bool | str | None:
    """The declaration's answer to one of the planner's questions, or None (ask mongoeco)."""
    kind, _, rest = feature.partition(":")
    if kind == "uniform_scalar_sort_type":
        return DECLARED_ORDERS.get((collection, rest))
    if kind in ("top_level_array", "traverses_array"):
        return False if rest in DECLARED_SCALAR_FIELDS else None
    if kind == "tagged_type":
        field, _, value_type = rest.rpartition(":")
        return False if field in DECLARED_SCALAR_FIELDS and value_type in _TAGGED_TYPES else None
    return None


class DeclaredFeatures(dict[tuple[str, str, str], bool | str]):
    """The engine's per-collection feature cache, answering the declared questions itself
    (so clearing the cache after a write never sends them back to the collection)."""

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and len(key) == 3 and _declared_answer(key[1], key[2]) is not None:
            return True
        return super().__contains__(key)

    def __getitem__(self, key: tuple[str, str, str]) -> bool | str:
        answer = _declared_answer(key[1], key[2])
        return answer if answer is not None else super().__getitem__(key)


Context = OperationContext | None


def _unrecorded(context: Context) -> Context:
    """The write's context, with its change left out of mongoeco's change feed."""
    return None if context is None else context.derive(publication=ChangePublicationPolicy.DISABLED)


def _unrecorded_operation(operation: Any, context: Context) -> tuple[Any, Context]:
    """An update or delete operation and its context, both with the change left out; the
    operation is bound to its context, so both are replaced together."""
    unrecorded = _unrecorded(context)
    if context is not None and operation.context is context:
        operation = operation.with_overrides(context=unrecorded)
    return operation, unrecorded


def _scope_indexes_to_their_collections(connection: sqlite3.Connection, *, opening: bool) -> None:
    """Each collection's SQL indexes made partial to that collection (see the module's
    docstring); an index built before is rebuilt once, when the store opens (the one case
    worth an info line: it takes seconds on a large file)."""
    found = connection.execute(
        "SELECT i.physical_name, i.db_name, i.coll_name, m.sql FROM indexes AS i"
        " JOIN sqlite_master AS m ON m.type = 'index' AND m.tbl_name = 'documents' AND m.name = i.physical_name"
    ).fetchall()
    rebuilt = 0
    for name, db_name, coll_name, sql in found:
        if not isinstance(sql, str) or _PARTIAL.search(sql):
            continue
        connection.execute(f"DROP INDEX {_identifier(name)}")
        connection.execute(f"{sql} WHERE db_name = {_text(db_name)} AND coll_name = {_text(coll_name)}")
        rebuilt += 1
    if rebuilt:
        connection.commit()
        log.log(logging.INFO if opening else logging.DEBUG, "scoped %d SQL indexes to their collections", rebuilt)


def _equality_prefix(fields: list[str]) -> tuple[str, ...]:
    """The leading fields of an index that the gateway's filters name with an equality (or an
    ``$in``), compiled to ``json_extract``: up to the first other field."""
    prefix: list[str] = []
    for field in fields:
        if field not in EQUALITY_FIELDS:
            break
        prefix.append(field)
    return tuple(prefix)


def _order_field(coll_name: str, fields: list[str], prefix: tuple[str, ...]) -> str | None:
    """The field an index continues with after its equality prefix, when this collection
    declares its type (so the order expression is the value): a user's history is read newest
    first by ``_id``, an endpoint's deliveries by ``seq``, each in the twin's order."""
    following = fields[len(prefix)] if len(fields) > len(prefix) else None
    return following if following is not None and (coll_name, following) in DECLARED_ORDERS else None


def _wanted_equality_twins(connection: sqlite3.Connection) -> dict[str, str]:
    """Physical name → CREATE INDEX statement of the twin each mongoeco index should have:
    one per collection and prefix of two fields or more, of one with an order after it, or of
    an index of the app alone."""
    wanted: dict[str, str] = {}
    for db_name, coll_name, fields_json in connection.execute("SELECT db_name, coll_name, fields FROM indexes"):
        fields = json.loads(fields_json) if isinstance(fields_json, str) else []
        prefix = _equality_prefix(fields)
        order = _order_field(coll_name, fields, prefix)
        # An index of the app alone is one a collection read per app has (keys, preference
        # categories, webhook endpoints); otherwise the app alone selects too much to twin.
        app_alone = fields == ["appId"]
        if len(prefix) < 2 and not app_alone and (order is None or prefix in ((), ("appId",))):
            continue
        key = (db_name, coll_name, *prefix, *((order,) if order else ()))
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:16]
        name = f"{EQUALITY_TWIN_PREFIX}{digest}"
        # The app last: an index led by it would also serve {appId, _id}, and SQLite, with no
        # statistics, could prefer it to ID_INDEX and read all of an app's documents.
        ordered = sorted(prefix, key=lambda field: field == "appId")
        columns = ", ".join(
            [
                *(f"json_extract(document, '$.{field}')" for field in ordered),
                *([value_expression_sql(order)] if order else []),
            ]
        )
        wanted[name] = (
            f"CREATE INDEX IF NOT EXISTS {_identifier(name)} ON documents(db_name, coll_name, {columns})"
            f" WHERE db_name = {_text(db_name)} AND coll_name = {_text(coll_name)}"
        )
    return wanted


def _keep_equality_twins(connection: sqlite3.Connection, *, opening: bool) -> None:
    """Give every compound index of equality fields its twin (see ``EQUALITY_TWIN_PREFIX``),
    and drop the twins of indexes that are gone. Twins built when the store opens (the first
    start after an upgrade: seconds on a large file) get an info line."""
    wanted = _wanted_equality_twins(connection)
    present = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE ?", (f"{EQUALITY_TWIN_PREFIX}%",)
        )
    }
    for name in present - wanted.keys():
        connection.execute(f"DROP INDEX IF EXISTS {_identifier(name)}")
    for name in wanted.keys() - present:
        connection.execute(wanted[name])
    if present != wanted.keys():
        connection.commit()
    built = len(wanted.keys() - present)
    if built:
        log.log(logging.INFO if opening else logging.DEBUG, "built %d SQLite equality indexes", built)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _id_equality(plan: QueryNode) -> EqualsCondition | None:
    """The ``_id`` equality a filter requires of every document it matches, if any."""
    for clause in plan.clauses if isinstance(plan, AndCondition) else (plan,):
        if isinstance(clause, EqualsCondition) and clause.field == "_id" and not isinstance(clause.value, dict | list):
            return clause
    return None


class EmbeddedSQLiteEngine(SQLiteEngine):
    """mongoeco's SQLite engine without the collection-wide reads described above."""

    # No change feed (see the module's docstring): the gateway opens no change stream.
    capabilities = replace(SQLiteEngine.capabilities, change_delivery="none")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache_state.collection_features_cache = DeclaredFeatures()

    def _connect_sync(self) -> None:
        super()._connect_sync()
        connection = self._require_connection()
        connection.execute(ID_INDEX)
        connection.execute(APP_ORDER_INDEX)
        connection.commit()
        _scope_indexes_to_their_collections(connection, opening=True)
        _keep_equality_twins(connection, opening=True)

    def _create_index_sync(self, *args: Any, **kwargs: Any) -> Any:
        created = super()._create_index_sync(*args, **kwargs)
        connection = self._require_connection()
        _scope_indexes_to_their_collections(connection, opening=False)
        _keep_equality_twins(connection, opening=False)
        return created

    def _drop_index_sync(self, *args: Any, **kwargs: Any) -> Any:
        dropped = super()._drop_index_sync(*args, **kwargs)
        _keep_equality_twins(self._require_connection(), opening=False)
        return dropped

    def _drop_indexes_sync(self, *args: Any, **kwargs: Any) -> Any:
        dropped = super()._drop_indexes_sync(*args, **kwargs)
        _keep_equality_twins(self._require_connection(), opening=False)
        return dropped

    async def insert_document(self, *args: Any, operation_context: Context = None, **kwargs: Any) -> Any:
        return await super().insert_document(*args, operation_context=_unrecorded(operation_context), **kwargs)

    async def insert_documents(self, *args: Any, operation_context: Context = None, **kwargs: Any) -> Any:
        return await super().insert_documents(*args, operation_context=_unrecorded(operation_context), **kwargs)

    async def merge_document(self, *args: Any, operation_context: Context = None, **kwargs: Any) -> Any:
        return await super().merge_document(*args, operation_context=_unrecorded(operation_context), **kwargs)

    async def update_with_operation(
        self, db_name: str, coll_name: str, operation: Any, *args: Any, operation_context: Context = None, **kwargs: Any
    ) -> Any:
        operation, context = _unrecorded_operation(operation, operation_context)
        write = super().update_with_operation
        return await write(db_name, coll_name, operation, *args, operation_context=context, **kwargs)

    async def delete_with_operation(
        self, db_name: str, coll_name: str, operation: Any, *args: Any, operation_context: Context = None, **kwargs: Any
    ) -> Any:
        operation, context = _unrecorded_operation(operation, operation_context)
        write = super().delete_with_operation
        return await write(db_name, coll_name, operation, *args, operation_context=context, **kwargs)

    async def _run_blocking(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # Short, bounded operations run on the store's own loop rather than a worker thread
        # (see the module's docstring); the rest keep mongoeco's thread pool.
        if getattr(func, "__self__", None) is self and getattr(func, "__name__", "") in INLINE_OPERATIONS:
            return func(*args, **kwargs)
        return await super()._run_blocking(func, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _select_first_document_for_plan(
        self, db_name: str, coll_name: str, plan: QueryNode, *, hint: Any = None, context: Any = None
    ) -> tuple[str, dict[str, Any]] | None:
        # An update's filter that names one _id beside other conditions (a version, guards on
        # attrs, an $expr): that document is the only candidate, so it is read by _id and the
        # whole filter is matched on it. mongoeco would otherwise plan the other conditions
        # first, asking of every document whether it holds arrays at each path they name, and
        # read the whole collection when SQL cannot express one of them.
        by_id = _id_equality(plan) if isinstance(plan, AndCondition) else None
        if by_id is None:
            found: tuple[str, dict[str, Any]] | None = super()._select_first_document_for_plan(
                db_name, coll_name, plan, hint=hint, context=context
            )
            return found
        found = super()._select_first_document_for_plan(db_name, coll_name, by_id, context=context)
        if found is None or not QueryEngine.match_plan(found[1], plan, dialect=MONGODB_DIALECT_80):
            return None
        return found

    def _sort_requires_python(self, db_name: str, coll_name: str, plan: QueryNode, sort: Any) -> bool:
        # A declared field is never an array nor a tagged number: SQL can order by it.
        if (
            sort
            and all(field in DECLARED_SCALAR_FIELDS for field, _ in sort)
            and not self._plan_has_array_traversing_paths(db_name, coll_name, plan)
        ):
            return False
        answer: bool = super()._sort_requires_python(db_name, coll_name, plan, sort)
        return answer

    def _translate_query_plan_with_multikey(
        self, db_name: str, coll_name: str, plan: QueryNode
    ) -> tuple[str, list[object]]:
        if isinstance(plan, InCondition) and plan.field in DECLARED_SCALAR_FIELDS and not plan.values:
            # An empty $in matches nothing (MongoDB's answer too); mongoeco read every document of
            # the collection to find that out (370 ms at 10,000 installations).
            return "0", []
        if (
            isinstance(plan, InCondition)
            and plan.field in DECLARED_SCALAR_FIELDS
            and plan.values
            and all(isinstance(value, str) for value in plan.values)
            and not plan.null_matches_undefined
        ):
            # A declared field is never an array: the values are compared with the field
            # itself, in the expression the _id and equality indexes hold.
            marks = ", ".join("?" for _ in plan.values)
            path = f"'$.{plan.field}'"
            sql = f"json_extract(document, {path}) IN ({marks}) AND json_type(document, {path}) = 'text'"
            return sql, list(plan.values)
        operator = _RANGES.get(type(plan))
        field, value = getattr(plan, "field", None), getattr(plan, "value", None)
        if operator is not None and field == "_id" and isinstance(value, str):
            # Strings compare only with strings; for a string _id the order expression is its value.
            return f"{_ID_ORDER} {operator} ? AND json_type(document, '$._id') = 'text'", [value]
        if operator is not None and isinstance(field, str) and (coll_name, field) in DECLARED_ORDERS:
            declared, order = DECLARED_ORDERS[(coll_name, field)], value_expression_sql(field)
            if declared == "objectid" and isinstance(value, ObjectId):
                # ObjectIds compare only with ObjectIds; their order expression is their hex digits.
                tagged_type = f"""json_extract(document, '$.{field}."$mongoeco".type')"""
                return f"{order} {operator} ? AND {tagged_type} = 'objectid'", [str(value)]
            if declared == "number" and type(value) is int:
                # Integers there: the order expression is the number itself.
                return f"{order} {operator} ? AND json_type(document, '$.{field}') = 'integer'", [value]
        translated: tuple[str, list[object]] = super()._translate_query_plan_with_multikey(db_name, coll_name, plan)
        return translated

    def _validate_document_against_unique_indexes(
        self,
        db_name: str,
        coll_name: str,
        document: dict[str, Any],
        *,
        exclude_storage_key: str | None = None,
        skip_id_check: bool = False,
        scan_payload_id: bool = False,
    ) -> None:
        # The storage-key look-up that precedes the scan finds an equal id whose storage key is
        # its identity; numeric ids are compared with every stored id by mongoeco regardless
        # of this flag, so only the scan for the others is skipped.
        super()._validate_document_against_unique_indexes(
            db_name,
            coll_name,
            document,
            exclude_storage_key=exclude_storage_key,
            skip_id_check=skip_id_check,
            scan_payload_id=False,
        )
