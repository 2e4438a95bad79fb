"""A cost ceiling, GitHub-style: an operation costs the number of objects it may return,
where a list field with a `first` argument returns up to `first` objects for each of its
parents (users(first: 100) { history(first: 20) } costs 100 + 100 x 20).

The rule sees no variable values (validation runs once per document and is cached), so a
`first` given by a variable counts as the variable's default, or else as the largest page.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
)

# Deeper documents are refused by the depth rule; stop counting rather than recurse further.
MAX_WALK_DEPTH = 64


def cost_rule(max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """The rule class for these limits. Build it once: the validation cache keys on it."""

    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            if root is None:
                return
            defaults = {
                definition.variable.name.value: definition.default_value
                for definition in node.variable_definitions or ()
            }
            walker = _Walker(self.context.schema, self.context.document.definitions, defaults, max_page_size)
            cost = walker.cost(node.selection_set, root, 0)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"This operation may return up to {cost:,} objects (list fields count "
                        f"by their `first`); the limit is {max_cost:,}. Ask for smaller pages "
                        "or fewer nested lists.",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": max_cost},
                    )
                )

    return QueryCost


def _schema_default(argument: GraphQLArgument) -> Any:
    """The argument's default: graphql-core keeps it as a value, or (schemas built from
    SDL) as a GraphQLDefaultInput holding a value or a literal."""
    if isinstance(argument.default_value, int):
        return argument.default_value
    default = getattr(argument, "default", None)
    value = getattr(default, "value", None)
    if isinstance(value, int):
        return value
    literal = getattr(default, "literal", None)
    return int(literal.value) if isinstance(literal, IntValueNode) else None


class _Walker:
    def __init__(self, schema: GraphQLSchema, definitions: Any, defaults: dict[str, Any], max_page_size: int) -> None:
        self.schema = schema
        self.fragments = {
            definition.name.value: definition
            for definition in definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.defaults = defaults
        self.max_page_size = max_page_size
        # Cost is linear in the parent's multiplier, so a fragment is costed once (at
        # multiplier 1) however often it is spread: no exponential walk.
        self.fragment_costs: dict[str, int] = {}
        self.visiting: set[str] = set()

    def cost(self, selection_set: SelectionSetNode | None, parent: Any, depth: int) -> int:
        if selection_set is None or depth > MAX_WALK_DEPTH:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type(condition.name.value) if condition is not None else parent
                total += self.cost(selection.selection_set, target, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, depth)
        return total

    def _field(self, node: FieldNode, parent: Any, depth: int) -> int:
        if node.name.value.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0  # introspection, or an unknown field that another rule reports
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        inner = self.cost(node.selection_set, get_named_type(definition.type), depth + 1)
        if "first" not in definition.args:
            return inner
        count = self._page_size(node, _schema_default(definition.args["first"]))
        return count + count * inner

    def _page_size(self, node: FieldNode, schema_default: Any) -> int:
        argument = next((arg for arg in node.arguments or () if arg.name.value == "first"), None)
        value = argument.value if argument is not None else None
        if isinstance(value, VariableNode):
            value = self.defaults.get(value.name.value)
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0)
        if argument is None and isinstance(schema_default, int):
            return schema_default
        return self.max_page_size

    def _fragment(self, name: str, depth: int) -> int:
        if name in self.fragment_costs:
            return self.fragment_costs[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic: reported by the standard rules
        self.visiting.add(name)
        cost = self.cost(fragment.selection_set, self._type(fragment.type_condition.name.value), depth + 1)
        self.visiting.discard(name)
        self.fragment_costs[name] = cost
        return cost

    def _type(self, name: str) -> Any:
        return self.schema.get_type(name)
