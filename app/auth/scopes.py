"""Scope checks. An operation outside the caller's scope raises Forbidden (GraphQL FORBIDDEN)."""

from __future__ import annotations

from typing import Any

from app.auth.principal import Principal, Scope


class Forbidden(Exception):
    def __init__(self, message: str = "this operation is outside the caller's scope") -> None:
        super().__init__(message)
        self.message = message


def require_admin(principal: Principal) -> None:
    if principal.scope is not Scope.ADMIN:
        raise Forbidden("admin scope required")


def require_app(principal: Principal) -> str:
    """The app id for operations that need an app token (server-side key)."""
    if principal.scope is not Scope.APP or principal.app_id is None:
        raise Forbidden("app scope required")
    return principal.app_id


def require_tenant(principal: Principal) -> str:
    """The app id for operations that app, user and session callers may all reach."""
    if principal.app_id is None or principal.scope is Scope.ANONYMOUS:
        raise Forbidden()
    return principal.app_id


def owns(principal: Principal, user: dict[str, Any]) -> bool:
    """Whether ``user`` is inside the caller's scope."""
    if principal.app_id is None or user.get("appId") != principal.app_id:
        return False
    match principal.scope:
        case Scope.APP:
            return True
        case Scope.USER:
            return user.get("externalUserId") == principal.external_user_id
        case Scope.SESSION:
            return user.get("_id") == principal.user_id and not user.get("externalUserId")
    return False


def require_owner(principal: Principal, user: dict[str, Any]) -> None:
    if not owns(principal, user):
        raise Forbidden()
