"""Properties of the pure rules, checked on generated input (no store, so they run fast)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import attributes, preferences
from app.domain.attributes import KEY_PATTERN, AttributeType, TypedValue
from app.domain.channel_documents import merge_channel
from app.domain.channel_specs import ChannelType, ValidChannel
from app.domain.definitions import Rules
from app.domain.errors import DomainError, DomainErrors
from app.domain.merge import STANDARD_FIELDS, MergeStrategy, merged_document
from app.domain.operations import AttributeOp, plan_operations
from app.domain.patch import UNSET
from app.domain.preferences import CategoryChoice, PreferencesPatch
from app.domain.profile import UserPatch, validate_patch
from app.domain.segments import AttributeCondition, UserFilter, compile_filter

FAST = settings(max_examples=60, deadline=None)
NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

# Input a client may send: anything, with the store's special characters well represented.
hostile = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["$where", "$gt", "$$ROOT", "$attrs.x", "a.b", "attrs.x", "ss_x", "__proto__", "a\n", ""]),
    st.builds(lambda a, b: f"{a}{b}", st.sampled_from(["$", ".", "ss_"]), st.text(max_size=6)),
)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
# Mostly valid keys (so that whole batches pass), sometimes hostile ones.
op_keys = st.one_of(keys, keys, keys, hostile)
# Few names, so that target and source often share one.
shared = st.sampled_from(["a", "b", "c", "d"])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC, microsecond=0)
)


def _key_is_refused(key: str) -> bool:
    try:
        attributes.validate_key(key, ("key",))
    except DomainError:
        return True
    return False


# --- merged_document -------------------------------------------------------------------


@st.composite
def users(draw: st.DrawFn, user_id: str) -> dict[str, Any]:
    names = draw(st.dictionaries(st.sampled_from(STANDARD_FIELDS[:4]), st.text(max_size=8), max_size=3))
    attrs = draw(st.dictionaries(shared, st.text(max_size=8), max_size=4))
    return {
        "_id": user_id,
        "signedUpAt": draw(moments),
        "updatedAt": draw(moments),
        "tags": draw(st.lists(shared, max_size=4, unique=True)),
        "attrs": attrs,
        "attrMeta": {key: {"type": "STRING", "updatedAt": draw(moments)} for key in attrs},
        **names,
    }


@FAST
@given(users("target"), users("source"), st.sampled_from(list(MergeStrategy)))
def test_merging_the_same_source_twice_changes_nothing_more(
    target: dict[str, Any], source: dict[str, Any], strategy: MergeStrategy
) -> None:
    once = merged_document(target, source, strategy, ("source",))
    assert merged_document(once, source, strategy, ("source",)) == once


@FAST
@given(users("target"), users("source"))
def test_under_prefer_target_the_target_keeps_every_value_it_has(
    target: dict[str, Any], source: dict[str, Any]
) -> None:
    merged = merged_document(target, source, MergeStrategy.PREFER_TARGET, ("source",))
    for name in STANDARD_FIELDS:
        if name in target:
            assert merged[name] == target[name]
    for key, value in target["attrs"].items():
        assert merged["attrs"][key] == value
    assert set(merged["attrs"]) == set(target["attrs"]) | set(source["attrs"])
    assert merged["tags"][: len(target["tags"])] == target["tags"]
    assert set(merged["tags"]) == set(target["tags"]) | set(source["tags"])
    assert merged["signedUpAt"] == min(target["signedUpAt"], source["signedUpAt"])


# --- preferences.apply -----------------------------------------------------------------

maybe_bool = st.sampled_from([None, True, False]) | st.just(UNSET)
channel_overrides = st.none() | st.lists(st.tuples(st.sampled_from(list(ChannelType)), st.booleans()), max_size=2)
choices = st.builds(
    CategoryChoice,
    category=st.sampled_from(["news", "offers", "billing"]),
    opted_in=maybe_bool,
    channels=channel_overrides | st.just(UNSET),
)
patches = st.builds(
    PreferencesPatch,
    language=st.sampled_from([None, "en", "fr-CA"]) | st.just(UNSET),
    timezone=st.sampled_from([None, "Europe/Paris"]) | st.just(UNSET),
    opted_out_channel_types=st.none() | st.lists(st.sampled_from(list(ChannelType)), max_size=3),
    categories=st.lists(choices, max_size=3, unique_by=lambda choice: choice.category),
)


@FAST
@given(patches, patches)
def test_applying_preferences_twice_equals_applying_them_once(first: PreferencesPatch, patch: PreferencesPatch) -> None:
    document = preferences.apply({"_id": "u", "preferredLanguage": "de"}, first)
    once = preferences.apply(document, patch)
    assert preferences.apply(once, patch) == once


# --- merge_channel ---------------------------------------------------------------------

channels = st.builds(
    ValidChannel,
    type=st.sampled_from([ChannelType.EMAIL, ChannelType.SMS]),
    key=st.sampled_from(["a@example.com", "b@example.com", "+15551234567"]),
    opted_in=st.none() | st.booleans(),
    address=st.none() | st.just("a@example.com"),
)


@FAST
@given(st.lists(channels, max_size=4), channels)
def test_merging_a_channel_again_changes_nothing(existing: list[ValidChannel], channel: ValidChannel) -> None:
    stored: list[dict[str, Any]] = []
    for item in existing:
        stored, _ = merge_channel(stored, item, {}, NOW)
    once, kept = merge_channel(stored, channel, {}, NOW + timedelta(seconds=1))
    twice, again = merge_channel(once, channel, {}, NOW + timedelta(seconds=2))
    assert twice is once  # "nothing changed" returns the very list
    assert again == kept
    # One stored channel per endpoint (type and key).
    endpoints = [(item["type"], item["key"]) for item in once]
    assert len(endpoints) == len(set(endpoints))


# --- compile_filter --------------------------------------------------------------------

OPERATORS = {"$and", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$all", "$exists", "$elemMatch"}
FIXED_PATHS = {"appId", "mergedInto", "type", "tags", "channelTypes", "createdAt"}


def _allowed_field_path(name: str) -> bool:
    if name in FIXED_PATHS:
        return True
    head, _, rest = name.partition(".")
    if head not in ("attrs", "attrMeta"):
        return False
    segments = rest.split(".")
    if head == "attrMeta":  # the type and time of a key, or one of them
        known = KEY_PATTERN.fullmatch(segments[0]) is not None
        return known and (len(segments) == 1 or segments[1:] == ["type"])
    return all(KEY_PATTERN.fullmatch(segment) for segment in segments)


def _check_query_keys(node: Any, inside_value: bool = False) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if name.startswith("$"):
                assert name in OPERATORS, name
            else:
                assert not inside_value and _allowed_field_path(name), name
            _check_query_keys(value, inside_value=name in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in"))
    elif isinstance(node, list):
        for item in node:
            _check_query_keys(item, inside_value)


string_value = st.builds(TypedValue, st.just(AttributeType.STRING), hostile)
conditions = st.builds(
    AttributeCondition,
    key=hostile | keys,
    eq=st.none() | string_value,
    exists=st.none() | st.booleans(),
    path=st.none() | st.lists(hostile | keys, min_size=1, max_size=3),
)
filters = st.builds(
    UserFilter,
    tags_all=st.none() | st.lists(hostile, max_size=3),
    tags_any=st.none() | st.lists(hostile, max_size=3),
    attributes=st.none() | st.lists(conditions, max_size=3),
)


@FAST
@given(filters)
def test_compile_filter_puts_input_only_in_values_never_in_operators_or_paths(given_filter: UserFilter) -> None:
    try:
        query = compile_filter("app", given_filter)
    except (DomainError, DomainErrors):
        return
    _check_query_keys(query)
    for condition in given_filter.attributes or []:
        assert not _key_is_refused(condition.key)


@FAST
@given(st.lists(hostile, min_size=1, max_size=3))
def test_compile_filter_refuses_every_key_the_key_rule_refuses(names: list[str]) -> None:
    refused = [name for name in names if _key_is_refused(name)]
    conditions = [AttributeCondition(key=name, exists=True) for name in names]
    if refused:
        with pytest.raises(DomainErrors):
            compile_filter("app", UserFilter(attributes=conditions))
    else:
        _check_query_keys(compile_filter("app", UserFilter(attributes=conditions)))


# --- validate_patch --------------------------------------------------------------------


@FAST
@given(st.lists(st.tuples(hostile | keys, st.none() | hostile), min_size=1, max_size=4))
def test_validate_patch_never_accepts_a_key_the_key_rule_refuses(items: list[tuple[str, str | None]]) -> None:
    custom = [
        (key, attributes.NULL if value is None else TypedValue(AttributeType.STRING, value)) for key, value in items
    ]
    refused = any(_key_is_refused(key) for key, _ in items)
    try:
        valid = validate_patch(UserPatch(custom_attributes=custom), ("input",))
    except DomainErrors:
        return  # a refused key, or a value refused on its own grounds
    assert not refused
    assert set(valid.attributes_set) | valid.attributes_unset <= {key for key, _ in items}


# --- plan_operations -------------------------------------------------------------------

ops = st.one_of(
    st.builds(AttributeOp, kind=st.just("set"), key=op_keys, value=string_value),
    st.builds(AttributeOp, kind=st.just("setOnce"), key=op_keys, value=string_value),
    st.builds(
        AttributeOp,
        kind=st.sampled_from(["append", "remove"]),
        key=op_keys,
        value=st.builds(TypedValue, st.just(AttributeType.LIST_OF_STRINGS), st.lists(hostile, min_size=1, max_size=3)),
    ),
    st.builds(AttributeOp, kind=st.just("increment"), key=op_keys, amount=st.sampled_from(["1", "-2.5"])),
    st.builds(AttributeOp, kind=st.just("unset"), key=hostile | keys),
)


def _strings_outside_literals(node: Any) -> list[str]:
    """Every dict key and string the store would interpret, skipping ``$literal`` values."""
    found: list[str] = []
    if isinstance(node, dict):
        for name, value in node.items():
            found.append(name)
            if name != "$literal":
                found.extend(_strings_outside_literals(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_strings_outside_literals(item))
    elif isinstance(node, str):
        found.append(node)
    return found


def _placeholders(op: AttributeOp) -> AttributeOp:
    """``op`` with every string value replaced by "x"."""
    if op.value is None:
        return op
    value = op.value.value
    same = ["x"] * len(value) if isinstance(value, list) else "x"
    return dataclasses.replace(op, value=TypedValue(op.value.type, same))


@FAST
@given(st.lists(ops, min_size=1, max_size=4, unique_by=lambda op: op.key))
def test_plan_operations_wraps_every_user_value_in_literal(given_ops: list[AttributeOp]) -> None:
    """What the store interprets (operators, field paths, variables) is the same whatever the
    values are: they only ever appear inside ``$literal``."""
    try:
        plan = plan_operations(given_ops, Rules(definitions={}), NOW)
    except DomainErrors:
        return
    neutral = plan_operations([_placeholders(op) for op in given_ops], Rules(definitions={}), NOW)
    assert _strings_outside_literals(plan.pipeline()) == _strings_outside_literals(neutral.pipeline())
    for name in plan.fields:
        assert name in ("version", "updatedAt") or _allowed_field_path(name), name
    for name in plan.unset:
        assert _allowed_field_path(name), name
    assert all(not _key_is_refused(op.key) for op in given_ops)
