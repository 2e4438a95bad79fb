"""Authentication for /graphql: a request that carries an operation must authenticate first (401
otherwise); the principal is left in ``scope["state"]["principal"]`` for the layers below.

A GET without an operation is the GraphiQL page: it needs no credential (404 when GraphiQL is
off) and gets a principal that can reach nothing.
"""

from __future__ import annotations

import logging

from pymongo.errors import PyMongoError
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.authenticate import authenticate
from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.http.errors import send_error
from app.store.client import Store

log = logging.getLogger("app.http")

MASKED_MESSAGE = "Unexpected error. Quote the request id when reporting it."


class Authentication:
    def __init__(self, app: ASGIApp, settings: Settings, store: Store, box: SecretBox, *, graphiql: bool) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.box = box
        self.graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        request_id = state.get("request_id")
        if scope["method"] == "GET" and _names_no_operation(scope):
            if not self.graphiql:  # switched off (production)
                await send_error(send, 404, "Not Found", code="NOT_FOUND", request_id=request_id)
                return
            state["principal"] = Principal(Role.ANONYMOUS)
            await self.app(scope, receive, send)
            return
        try:
            state["principal"] = await authenticate(Headers(scope=scope), self.settings, self.store, self.box)
        except InvalidToken as error:
            await send_error(
                send,
                401,
                str(error),
                code="UNAUTHENTICATED",
                request_id=request_id,
                headers={"www-authenticate": "Bearer"},
            )
            return
        except PyMongoError:
            log.warning("store unavailable while authenticating", extra={"request_id": request_id})
            await send_error(
                send, 503, "the store is unavailable; retry later", code="UNAVAILABLE", request_id=request_id
            )
            return
        except Exception:
            # Outside Strawberry, so the masking extension does not see it: mask and log here.
            log.exception("unexpected error while authenticating", extra={"request_id": request_id})
            await send_error(send, 500, MASKED_MESSAGE, code="INTERNAL_SERVER_ERROR", request_id=request_id)
            return
        await self.app(scope, receive, send)


def _names_no_operation(scope: Scope) -> bool:
    """A GET with neither ``query`` nor ``extensions``: a browser asking for GraphiQL."""
    params = QueryParams(scope.get("query_string", b""))
    return "query" not in params and "extensions" not in params
