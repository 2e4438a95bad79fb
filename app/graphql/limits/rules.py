"""The limits as Strawberry extensions and graphql-core validation rules.

The rule classes are built once per schema and handed to one AddValidationRules, so the
rules tuple has the same contents on every request and a repeated document is validated
once (the validation cache keys on the rules). The depth and alias rules are this
project's own (limits/shape.py): they measure each fragment once, however often spread.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from graphql import parse as graphql_parse
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)

from app.config import Settings
from app.domain.listing import MAX_PAGE_SIZE
from app.graphql.limits.cost import cost_rule
from app.graphql.limits.guards import RequestGuards
from app.graphql.limits.shape import aliases_rule, depth_rule, fragments_rule

SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_depth: int = 8
    max_tokens: int = 2_000
    max_aliases: int = 15
    max_cost: int = 10_000
    max_fragments: int = 50
    max_fragment_spreads: int = 200
    field_suggestions: bool = True
    cache_size: int = 256  # distinct documents kept parsed and validated; 0 turns caching off

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_aliases=settings.max_query_aliases,
            max_cost=settings.max_query_cost,
            max_fragments=settings.max_query_fragments,
            max_fragment_spreads=settings.max_fragment_spreads,
            field_suggestions=settings.suggestions_enabled,
            cache_size=settings.query_cache_size,
        )

    def validation_rules(self) -> list[type[ASTValidationRule]]:
        return [
            fragments_rule(self.max_fragments, self.max_fragment_spreads),
            depth_rule(self.max_depth),
            aliases_rule(self.max_aliases),
            cost_rule(self.max_cost, MAX_PAGE_SIZE),
        ]

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """Extension factories, in order: the token limit must be set before parsing."""
        rules = self.validation_rules()  # built once, shared by every request
        factories: list[Callable[[], SchemaExtension]] = [
            lambda: MaxTokensLimiter(max_token_count=self.max_tokens),
            lambda: AddValidationRules(rules),
        ]
        if self.cache_size > 0:
            # The validation cache keys on the parsed document object, so it only hits
            # when the parser cache hands back the same document for the same text.
            size = self.cache_size
            parse = lru_cache(maxsize=size)(graphql_parse)
            factories += [lambda: CachedParse(parse), lambda: ValidationCache(maxsize=size)]
        # After the validation cache, whose errors it extends.
        factories.append(RequestGuards)
        return factories


class CachedParse(SchemaExtension):
    """Strawberry's ParserCache, except that a document that does not parse is left to
    Strawberry's own parse, which answers it as a GraphQL error. (ParserCache raises the
    error from its hook, past that handling: over a websocket the client got "complete"
    with no error, and the log a traceback quoting the document.)"""

    def __init__(self, parse: Callable[..., DocumentNode]) -> None:
        self.parse = parse

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.parse(context.query, **context.parse_options)
        yield


def hide_suggestions(errors: list[GraphQLError]) -> None:
    """Drop "Did you mean …?" from every message (field, argument, type and enum names),
    so that a production schema cannot be read off error messages."""
    for error in errors:
        if "Did you mean" in error.message:
            error.message = SUGGESTION.sub("", error.message)
