"""The /graphql endpoint: authenticate, then hand over to Strawberry with a typed context."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from app.auth.authenticate import authenticate
from app.auth.principal import Principal
from app.auth.principal import Scope as PrincipalScope
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.graphql.context import Context, build_loaders
from app.graphql.extensions import MASKED_MESSAGE
from app.store.client import Store

log = logging.getLogger("app.graphql")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_of(request: Request) -> str:
    """The caller's X-Request-Id when it is well-formed, else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


def error_response(status: int, message: str, code: str, request_id: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id, **headers})


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings, store: Store, box: SecretBox) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.store = store
        self.box = box

    async def get_context(self, request: Request | Any, response: Response | Any) -> Context:
        principal = request.state.principal
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            store=self.store,
            box=self.box,
            principal=principal,
            request_id=request.state.request_id,
            loaders=build_loaders(self.store, principal.app_id),
        )


class GraphQLEndpoint:
    """ASGI endpoint: a request that carries an operation must authenticate first (else 401)."""

    def __init__(self, view: GraphQLView) -> None:
        self.view = view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request_id_of(request)
        request.state.request_id = request_id
        if request.method == "GET" and "query" not in request.query_params:
            # The GraphiQL page needs no credential. Strawberry builds the context even for
            # it, so it gets a principal that can reach nothing (no app).
            request.state.principal = Principal(PrincipalScope.ANONYMOUS)
            await self.view(scope, receive, send)
            return
        try:
            request.state.principal = await authenticate(
                request.headers, self.view.settings, self.view.store, self.view.box
            )
        except InvalidToken as error:
            response = error_response(
                401, str(error), "UNAUTHENTICATED", request_id, **{"www-authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        except PyMongoError:
            log.warning("store unavailable while authenticating", extra={"request_id": request_id})
            response = error_response(503, "the store is unavailable; retry later", "UNAVAILABLE", request_id)
            await response(scope, receive, send)
            return
        except Exception:
            # Outside Strawberry, so the masking extension does not see it: mask and log here.
            log.exception("unexpected error while authenticating", extra={"request_id": request_id})
            response = error_response(500, MASKED_MESSAGE, "INTERNAL_SERVER_ERROR", request_id)
            await response(scope, receive, send)
            return
        await self.view(scope, receive, send)
