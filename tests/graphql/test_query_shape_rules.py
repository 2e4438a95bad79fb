"""The depth, alias and fragment rules: the same answers as a naive walk, in one pass."""

from __future__ import annotations

import time

import pytest
from graphql import build_schema, parse, validate

from app.graphql.limits.shape import aliases_rule, depth_rule, fragments_rule

SCHEMA = build_schema("type Query { a: Query, b: Query, leaf: Int }")


def messages(document: str, *rules: type) -> list[str]:
    return [error.message for error in validate(SCHEMA, parse(document), list(rules))]


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        ("{ leaf }", 0),
        ("{ a { leaf } }", 1),
        ("{ a { b { a { leaf } } } }", 3),
        ("{ ...F } fragment F on Query { a { a { leaf } } }", 2),
        ("{ a { ... on Query { b { leaf } } } }", 2),  # inline fragments add no depth
        ("{ a { ...F } } fragment F on Query { b { ...G } } fragment G on Query { a { leaf } }", 3),
        ("{ __schema { types { fields { name } } } }", 0),  # introspection is not counted
    ],
)
def test_depth_counts_fields_through_fragments(document: str, depth: int) -> None:
    assert messages(document, depth_rule(depth)) == []
    if depth > 0:
        assert messages(document, depth_rule(depth - 1)) == [
            f"'anonymous' exceeds maximum operation depth of {depth - 1}"
        ]


def test_aliases_count_each_spread_of_a_fragment() -> None:
    document = "{ ...F ...F x: leaf } fragment F on Query { y: leaf z: a { leaf } }"
    assert messages(document, aliases_rule(5)) == []
    assert messages(document, aliases_rule(4)) == ["5 aliases found. Allowed: 4"]


def test_a_fan_out_of_fragments_is_measured_in_one_pass() -> None:
    fragments = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    document = "{ ...F0 }\n" + fragments + "\nfragment F30 on Query { x: a { leaf } }"
    started = time.perf_counter()
    found = messages(document, depth_rule(8), aliases_rule(15))
    assert time.perf_counter() - started < 0.5  # 2**30 spreads once expanded
    assert found == ["At least 1500 aliases found. Allowed: 15"]


def test_fragment_definitions_and_spreads_are_capped() -> None:
    definitions = "\n".join(f"fragment G{i} on Query {{ leaf }}" for i in range(4))
    spreads = " ".join(f"...G{i}" for i in range(4))
    document = f"{{ {spreads} ...G0 }}\n{definitions}"
    assert messages(document, fragments_rule(4, 5)) == []
    assert messages(document, fragments_rule(3, 5)) == ["4 fragment definitions found. Allowed: 3"]
    assert messages(document, fragments_rule(4, 4)) == ["More than 4 fragment spreads found. Allowed: 4"]
