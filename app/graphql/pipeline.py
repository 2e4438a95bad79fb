"""The mutation pipeline: every mutation is declared with ``mutation(...)`` and then runs

1. **scope**: the callers the field admits (a Strawberry permission class, checked before
   the resolver and before any store look-up); others get FORBIDDEN;
2. **claims**: inputs that carry identifiers are parsed with ``vouched_patch`` /
   ``vouched_identity`` (app/domain/claims.py), still before any look-up;
3. **the resolver**: parse input → call the domain → shape the payload;
4. **errors**: a DomainError / DomainErrors from anywhere in the resolver becomes the
   payload's ``userErrors`` (everything else propagates: FORBIDDEN, or masked). The codes a
   mutation can return are declared with it (``codes=``) and listed in its description; a
   code outside that list warns (an error under the test suite), so the list cannot drift.

So a resolver holds no scope check and no error collection of its own. Queries and
subscriptions are declared with ``query(...)`` / ``subscription(...)``: the same scope step
(``ScopeCheck``) before the resolver, which shapes its own answer (connections keep their
page-size errors in ``userErrors``).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.permission import BasePermission
from strawberry.types.field import StrawberryField

from app.auth.principal import Scope
from app.auth.scopes import Forbidden
from app.domain import claims
from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.domain.profile import Field, UserPatch
from app.graphql.access import Info
from app.graphql.errors import UserError, user_errors

ADMIN = frozenset({Scope.ADMIN})
APP = frozenset({Scope.APP})
# Callers inside one app that act on profiles: app tokens on any, user and session tokens on their own.
TENANT = frozenset({Scope.APP, Scope.USER, Scope.SESSION})
# Everyone an app knows, X-App-Id callers included (registering an installation).
APP_CLIENTS = frozenset({Scope.APP, Scope.USER, Scope.SESSION, Scope.ANONYMOUS})

_REFUSALS = {ADMIN: "admin scope required", APP: "app scope required"}
FailedPayload = Callable[[list[UserError], dict[str, Any]], Any]


class UndeclaredErrorCode(UserWarning):
    """A mutation returned a userError code its declaration does not list."""


class CallerScope(BasePermission):
    """Admits the caller when its scope is one of ``scopes`` (and, below admin, it belongs to an app)."""

    def __init__(self, scopes: frozenset[Scope], message: str) -> None:
        self.scopes = scopes
        self.message = message

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.scope not in self.scopes:
            return False
        return principal.scope is Scope.ADMIN or principal.app_id is not None

    def on_unauthorized(self) -> None:
        raise Forbidden(self.message or "this operation is outside the caller's scope")


class ScopeCheck(FieldExtension):
    """The scope step alone: FORBIDDEN before the resolver (or the subscription's first event)
    when the caller is outside ``scope``."""

    def __init__(self, scope: CallerScope) -> None:
        self.scope = scope

    # Positional-only like MutationPipeline's: argument names never collide with these.
    async def resolve_async(  # type: ignore[override]
        self, next_: AsyncExtensionResolver, root: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        if not self.scope.has_permission(root, info):
            self.scope.on_unauthorized()
        result = next_(root, info, **kwargs)
        # A subscription's resolver gives an async generator, not an awaitable.
        return await result if inspect.isawaitable(result) else result


class MutationPipeline(FieldExtension):
    """The scope check, then the resolver; its domain errors become the payload's userErrors
    (the one place where that happens). Not Strawberry's PermissionExtension: its ``source``
    parameter collides with mergeUsers' ``source`` argument."""

    def __init__(self, scope: CallerScope, failed: FailedPayload | None, codes: frozenset[ErrorCode] | None) -> None:
        self.scope = scope
        self.failed = failed
        self.codes = codes
        self.payload: Any = None
        self.field_name = ""

    def apply(self, field: StrawberryField) -> None:
        self.payload = field.type
        self.field_name = field.python_name

    # Positional-only, so that a field argument named `source` (mergeUsers) passes through kwargs.
    async def resolve_async(  # type: ignore[override]
        self, next_: AsyncExtensionResolver, root: Any, info: Info, /, **kwargs: Any
    ) -> Any:
        if not self.scope.has_permission(root, info):
            self.scope.on_unauthorized()
        try:
            return await next_(root, info, **kwargs)
        except (DomainError, DomainErrors) as error:
            errors = user_errors(error)
            self._check_declared(errors)
            if self.failed is not None:
                return self.failed(errors, kwargs)
            return failed_payload(self.payload, errors)

    def _check_declared(self, errors: list[UserError]) -> None:
        if self.codes is None:
            return  # not declared yet: test_mutation_pipeline lists such mutations
        undeclared = sorted({item.code for item in errors} - self.codes)
        if undeclared:
            warnings.warn(
                f"{self.field_name} returned {', '.join(undeclared)}: add it to the mutation's codes=",
                UndeclaredErrorCode,
                stacklevel=2,
            )


def described_with_codes(description: str, codes: frozenset[ErrorCode] | None) -> str:
    """The field's description followed by the userError codes it can return (in the enum's order)."""
    if codes is None:
        return description
    listed = ", ".join(code.value for code in ErrorCode if code in codes)
    return f"{description}\n\nuserErrors codes: {listed or 'none'}."


def failed_payload(payload: Any, errors: list[UserError]) -> Any:
    """A payload with nothing but its userErrors (every other field null)."""
    names = [field.python_name for field in payload.__strawberry_definition__.fields]
    return payload(**{name: None for name in names if name != "user_errors"}, user_errors=errors)


def mutation(
    *,
    scopes: frozenset[Scope],
    description: str,
    codes: Iterable[ErrorCode] | None = None,
    forbidden: str | None = None,
    failed: FailedPayload | None = None,
) -> Any:
    """Declare a mutation field: who may call it, the userError codes it can return (appended
    to its description), and how its expected failures answer.
    ``failed(errors, arguments)`` builds the payload when the default (nulls) does not fit."""
    declared = frozenset(codes) if codes is not None else None
    return strawberry.mutation(
        description=described_with_codes(description, declared),
        extensions=[MutationPipeline(_caller_scope(scopes, forbidden), failed, declared)],
    )


def _caller_scope(scopes: frozenset[Scope], forbidden: str | None) -> CallerScope:
    return CallerScope(scopes, forbidden or _REFUSALS.get(scopes, "this operation is outside the caller's scope"))


def query(*, scopes: frozenset[Scope], description: str, forbidden: str | None = None) -> Any:
    """Declare a query field and the callers it admits (others get FORBIDDEN before it runs)."""
    return strawberry.field(description=description, extensions=[ScopeCheck(_caller_scope(scopes, forbidden))])


def subscription(*, scopes: frozenset[Scope], description: str, forbidden: str | None = None) -> Any:
    """Declare a subscription field and the callers it admits."""
    return strawberry.subscription(description=description, extensions=[ScopeCheck(_caller_scope(scopes, forbidden))])


def app_id_of(info: Info) -> str:
    """The caller's app (the scope step admitted only callers that have one)."""
    app_id = info.context.principal.app_id
    assert app_id is not None
    return app_id


def vouched_patch(info: Info, patch: UserPatch, path: Field) -> UserPatch:
    """``patch`` as the caller may apply it (anonymous callers' emails/phones become
    unverified contact data); FORBIDDEN when it asserts an identifier the caller cannot vouch for."""
    try:
        return claims.check_patch(info.context.principal.claims, patch, path)
    except claims.ClaimRefused as refused:
        raise Forbidden(refused.message) from None


def vouched_identity(info: Info, external_user_id: str | None, emails: Sequence[str], phones: Sequence[str]) -> None:
    """FORBIDDEN when the identity names an identifier the caller cannot vouch for."""
    try:
        claims.check_identity(info.context.principal.claims, external_user_id, emails, phones)
    except claims.ClaimRefused as refused:
        raise Forbidden(refused.message) from None
