"""Strawberry's name converter, remembering the GraphQL name of each field and argument."""

from __future__ import annotations

from strawberry.schema.name_converter import HasGraphQLName, NameConverter


class MemoizedNames(NameConverter):
    """Strawberry works out the GraphQL name of every field of an input argument again on every
    request (``convert_argument``): a tenth of the Python calls of a cached read by id
    (bench/calls.py). A field's or an argument's name is fixed once its definition exists, so
    each is worked out once per object."""

    def __init__(self, auto_camel_case: bool = True) -> None:
        super().__init__(auto_camel_case)
        # id → (the object, its name): the object is held, so its id is never reused.
        self._names: dict[int, tuple[HasGraphQLName, str]] = {}

    def get_graphql_name(self, obj: HasGraphQLName) -> str:
        remembered = self._names.get(id(obj))
        if remembered is not None and remembered[0] is obj:
            return remembered[1]
        name = super().get_graphql_name(obj)
        self._names[id(obj)] = (obj, name)
        return name
