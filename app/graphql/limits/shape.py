"""Depth, alias and fragment limits whose cost is linear in the document's size.

A fragment may spread another fragment several times (`fragment F0 { ...F1 ...F1 }` and so on);
walking every spread again doubles the work per level, so 21 such fragments in under a
kilobyte kept a naive walker busy for seconds. Here each fragment definition is measured once
and the result reused wherever it is spread, so a document costs one pass over its nodes.
Messages match those of Strawberry's QueryDepthLimiter and MaxAliasesLimiter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

# Selection sets nested deeper than this (fields and inline fragments) are refused by the
# depth rule anyway; the walk stops there instead of recursing on.
MAX_LEVEL = 100


class _Measure:
    """A per-selection-set measure, memoised per fragment definition.

    ``combine_field(field, inner)`` gives a field's value from its selection set's value;
    the values of a selection set's members are folded with ``fold``; values saturate at ``cap``.
    """

    def __init__(
        self,
        document: DocumentNode,
        fold: Callable[[list[int]], int],
        combine_field: Callable[[FieldNode, int], int],
        cap: int,
    ) -> None:
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.fold = fold
        self.combine_field = combine_field
        self.cap = cap
        self.memo: dict[str, int] = {}
        self.visiting: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None, level: int = 0) -> int:
        if selection_set is None:
            return 0
        if level > MAX_LEVEL:
            return self.cap  # nested past any depth limit: count it as over every limit
        values: list[int] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.of(selection.selection_set, level + 1) if selection.selection_set else 0
                values.append(self.combine_field(selection, inner))
            elif isinstance(selection, InlineFragmentNode):
                values.append(self.of(selection.selection_set, level + 1))
            elif isinstance(selection, FragmentSpreadNode):
                values.append(self._fragment(selection.name.value))
        return min(self.fold(values), self.cap)

    def _fragment(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic: the standard rules report it
        self.visiting.add(name)
        value = self.of(fragment.selection_set)
        self.visiting.discard(name)
        self.memo[name] = value
        return value


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """Fields nested deeper than ``max_depth`` (introspection fields do not count)."""

    def field_depth(field: FieldNode, inner: int) -> int:
        if field.name.value.startswith("__") or field.selection_set is None:
            return 0
        return 1 + inner

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measure = _Measure(context.document, lambda values: max(values, default=0), field_depth, max_depth + 1)
            for operation in _operations(context.document):
                if measure.of(operation.selection_set) > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(
                        GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", operation)
                    )

    return DepthLimit


def aliases_rule(max_aliases: int) -> type[ValidationRule]:
    """More than ``max_aliases`` aliased fields, counting a fragment once per spread."""

    def field_aliases(field: FieldNode, inner: int) -> int:
        return inner + (1 if field.alias else 0)

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            # Counts saturate well above the limit, so the message names a bounded number.
            cap = max(max_aliases * 100, 1_000)
            measure = _Measure(context.document, sum, field_aliases, cap)
            total = sum(measure.of(operation.selection_set) for operation in _operations(context.document))
            if total > max_aliases:
                shown = f"{total}" if total < cap else f"At least {cap}"
                context.report_error(GraphQLError(f"{shown} aliases found. Allowed: {max_aliases}"))

    return AliasLimit


def fragments_rule(max_definitions: int, max_spreads: int) -> type[ValidationRule]:
    """At most ``max_definitions`` fragment definitions and ``max_spreads`` spreads (as written)."""

    class FragmentLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            definitions = sum(isinstance(node, FragmentDefinitionNode) for node in context.document.definitions)
            self.spreads = 0
            if definitions > max_definitions:
                context.report_error(
                    GraphQLError(
                        f"{definitions} fragment definitions found. Allowed: {max_definitions}",
                        extensions={"code": "LIMIT_EXCEEDED"},
                    )
                )

        def enter_fragment_spread(self, *_args: Any) -> None:
            self.spreads += 1
            if self.spreads == max_spreads + 1:
                self.report_error(
                    GraphQLError(
                        f"More than {max_spreads} fragment spreads found. Allowed: {max_spreads}",
                        extensions={"code": "LIMIT_EXCEEDED"},
                    )
                )

    return FragmentLimit
