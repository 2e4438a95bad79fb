"""The /graphql endpoint: authenticate, then hand over to Strawberry with a typed context."""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from typing import Any

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from app.auth.authenticate import authenticate
from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.graphql.context import Context, build_loaders
from app.graphql.errors import ClientError
from app.graphql.extensions import MASKED_MESSAGE
from app.graphql.persisted import PersistedQueries, PersistedQueryError
from app.http.graphiql import local_graphiql_html
from app.http.idempotency import Idempotency
from app.http.json_body import decode_request_json
from app.http.rate_limit import RateLimiter
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


def rate_limited_response(message: str, wait: float, request_id: str) -> JSONResponse:
    retry_after = RateLimiter.retry_after_header(wait)
    return error_response(429, message, "RATE_LIMITED", request_id, **{"retry-after": retry_after})


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        settings: Settings,
        store: Store,
        box: SecretBox,
        persisted: PersistedQueries | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.store = store
        self.box = box
        self.persisted = persisted or PersistedQueries(enabled=False, cache_size=1)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET with only a persisted query's hash is an operation, not a browser.
        hashed_only = "extensions" in request.query_params
        return not hashed_only and super().should_render_graphql_ide(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Resolve a persisted query's text first; register it once it has validated."""
        try:
            query, to_register = await self.persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as error:
            if error.status != 200:
                sub_response.status_code = error.status
            return ExecutionResult(data=None, errors=[ClientError(error.message, error.code)])
        if query is not request_data.query:
            request_data = dataclasses.replace(request_data, query=query)
        result = await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        if to_register is not None and query is not None and result.data is not None:
            await self.persisted.register(to_register, query)
        return result

    @property
    def graphql_ide_html(self) -> str:
        return local_graphiql_html(super().graphql_ide_html)

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    async def get_context(self, request: Request | Any, response: Response | Any) -> Context:
        # Strawberry builds a context before it renders GraphiQL too; that page runs nothing.
        principal = getattr(request.state, "principal", None) or Principal(Role.ANONYMOUS)
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

    def __init__(
        self,
        view: GraphQLView,
        limiter: RateLimiter | None = None,
        idempotency: Idempotency | None = None,
        auth_failures: RateLimiter | None = None,
    ) -> None:
        self.view = view
        self.limiter = limiter
        self.idempotency = idempotency
        # Failed authentications per client address: each bad key id can cost a store look-up.
        self.auth_failures = auth_failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        # The edge (app.http.observe) usually assigned one already.
        request_id = getattr(request.state, "request_id", None) or request_id_of(request)
        request.state.request_id = request_id
        params = request.query_params
        if request.method == "GET" and "query" not in params and "extensions" not in params:
            if self.view.graphql_ide is None:  # switched off (production)
                refusal = error_response(404, "Not Found", "NOT_FOUND", request_id)
                await refusal(scope, receive, send)
                return
            # The GraphiQL page needs no credential. Strawberry builds the context even for
            # it, so it gets a principal that can reach nothing (no app).
            request.state.principal = Principal(Role.ANONYMOUS)
            await self.view(scope, receive, send)
            return
        # Behind a proxy the address is the proxy's unless uvicorn trusts its forwarded headers.
        address = request.client.host if request.client is not None and request.client.host else None
        if self.auth_failures is not None and address is not None:
            # Once limited, an address is refused whatever it sends, before any store look-up.
            wait = self.auth_failures.blocked(address)
            if wait is not None:
                message = "too many failed authentications from this address; retry later"
                await rate_limited_response(message, wait, request_id)(scope, receive, send)
                return
        try:
            request.state.principal = await authenticate(
                request.headers, self.view.settings, self.view.store, self.view.box
            )
        except InvalidToken as error:
            if self.auth_failures is not None and address is not None:
                await self.auth_failures.acquire(address)
            response = error_response(401, str(error), "UNAUTHENTICATED", request_id, **{"www-authenticate": "Bearer"})
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
        app_id = request.state.principal.app_id
        if self.limiter is not None and app_id is not None:
            wait = await self.limiter.acquire(app_id)
            if wait is not None:
                message = "rate limit exceeded for this app; retry later"
                await rate_limited_response(message, wait, request_id)(scope, receive, send)
                return
        if self.idempotency is not None and app_id is not None:
            principal = request.state.principal
            caller = f"{principal.scope}:{principal.external_user_id or principal.user_id or ''}"
            await self.idempotency(scope, receive, send, app_id, caller, self.view)
            return
        await self.view(scope, receive, send)
