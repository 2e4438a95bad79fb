"""Property tests of the pure attribute and identifier rules (no store, milliseconds each)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import bson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import attributes, identifiers, limits
from app.domain.attributes import AttributeType, TypedValue
from app.domain.errors import DomainError

KEY_START = string.ascii_letters
KEY_REST = string.ascii_letters + string.digits + "_"
valid_keys = st.builds(
    lambda first, rest: first + rest, st.sampled_from(KEY_START), st.text(KEY_REST, max_size=63)
).filter(lambda key: not key.startswith("ss_"))

finite_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda number: (
        len(number.as_tuple().digits) <= limits.MAX_NUMBER_DIGITS
        and (not number or abs(number.adjusted()) <= limits.MAX_NUMBER_ADJUSTED_EXPONENT)
    )
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20),
)


def _objects(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    values: st.SearchStrategy[Any] = json_scalars
    if depth > 1:
        values = st.one_of(json_scalars, st.deferred(lambda: _objects(depth - 1)))
    return st.dictionaries(valid_keys, values, max_size=5)


@given(valid_keys)
def test_valid_keys_are_accepted(key: str) -> None:
    assert attributes.validate_key(key, ()) == key


@given(valid_keys, st.sampled_from(["\n", "\x00", ".", "$", " ", "\r\n", "é"]), st.booleans())
def test_a_key_with_a_control_character_dot_or_dollar_is_refused(key: str, bad: str, at_end: bool) -> None:
    candidate = key + bad if at_end else bad + key
    with pytest.raises(DomainError):
        attributes.validate_key(candidate, ())


@given(finite_decimals)
def test_numbers_round_trip_through_bson_exactly(number: Decimal) -> None:
    stored = attributes.to_bson(TypedValue(AttributeType.NUMBER, str(number)), ())
    decoded = bson.decode(bson.encode({"v": stored}))["v"]
    assert Decimal(attributes.from_bson(AttributeType.NUMBER, decoded)) == number


@given(st.lists(finite_decimals.map(str), max_size=limits.MAX_LIST_LENGTH))
def test_lists_of_numbers_round_trip(numbers: list[str]) -> None:
    stored = attributes.to_bson(TypedValue(AttributeType.LIST_OF_NUMBERS, numbers), ())
    decoded = bson.decode(bson.encode({"v": stored}))["v"]
    back = attributes.from_bson(AttributeType.LIST_OF_NUMBERS, decoded)
    assert [Decimal(item) for item in back] == [Decimal(item) for item in numbers]


@settings(max_examples=200)
@given(_objects(limits.MAX_OBJECT_DEPTH))
def test_objects_round_trip_with_their_types(value: dict[str, Any]) -> None:
    try:
        stored = attributes.to_bson(TypedValue(AttributeType.OBJECT, value), ())
    except DomainError as error:  # only the size limits may refuse a generated object
        assert error.code.value == "LIMIT_EXCEEDED"
        return
    decoded = bson.decode(bson.encode({"v": stored}))["v"]
    assert attributes.from_bson(AttributeType.OBJECT, decoded) == value


@given(st.integers(min_value=1, max_value=50))
def test_objects_deeper_than_the_limit_are_refused(extra: int) -> None:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(limits.MAX_OBJECT_DEPTH - 1 + extra):
        value = {"a": value}
    with pytest.raises(DomainError) as raised:
        attributes.to_bson(TypedValue(AttributeType.OBJECT, value), ())
    assert raised.value.code.value == "LIMIT_EXCEEDED"


@given(st.lists(st.booleans(), min_size=4, max_size=4), st.sampled_from(["", " "]))
def test_null_in_any_casing_is_no_id(upper: list[bool], padding: str) -> None:
    text = "".join(letter.upper() if big else letter for letter, big in zip("null", upper, strict=True))
    assert identifiers.normalize_external_user_id(padding + text + padding) is None


@given(st.text(min_size=1, max_size=50).filter(lambda text: text.strip() and text.strip().lower() != "null"))
def test_every_other_text_is_an_id_or_refused_for_control_characters(text: str) -> None:
    try:
        assert identifiers.normalize_external_user_id(text) == text.strip()
    except DomainError:
        assert identifiers.has_control_characters(text)


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_epoch_milliseconds_and_rfc3339_name_the_same_moment(milliseconds: int) -> None:
    moment = identifiers.parse_moment(milliseconds)
    assert identifiers.parse_moment(moment.isoformat()) == moment
    assert identifiers.parse_moment(str(milliseconds)) == moment
    assert (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) == milliseconds


@given(
    st.one_of(
        st.integers(max_value=-62_135_596_800_001),
        st.integers(min_value=253_402_300_800_000),
    )
)
def test_epoch_milliseconds_out_of_range_are_a_value_error(milliseconds: int) -> None:
    with pytest.raises(ValueError):
        identifiers.parse_moment(milliseconds)
