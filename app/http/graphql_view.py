"""Strawberry's ASGI view for /graphql: bounded JSON decoding, persisted queries, JSON refusals
and a typed context built from the principal the authentication middleware found."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.config import Settings
from app.crypto import SecretBox
from app.graphql.context import Context, Loaders
from app.graphql.errors import ClientError
from app.graphql.execution import HTTP_OPERATIONS, OperationRunner
from app.graphql.limits.guards import OPERATION_NAME_REQUIRED
from app.graphql.limits.rules import QueryLimits
from app.graphql.persisted import PersistedQueries, PersistedQueryError
from app.graphql.schema import Schema
from app.http.errors import STATUS_CODES, send_error
from app.http.graphiql import local_graphiql_html
from app.http.json_body import JsonLimitExceeded, JsonLimits, decode_request_json
from app.http.media_types import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON
from app.http.rate_limit import RateLimiter, app_bucket
from app.http.request_errors import request_error_status
from app.store.client import Store

log = logging.getLogger("app.http")


def json_limits_of(settings: Settings) -> JsonLimits:
    return JsonLimits(
        max_depth=settings.max_json_depth,
        max_nodes=settings.max_json_values,
        max_list_length=settings.max_json_list_length,
        max_string_length=settings.max_json_string_length,
        max_number_length=settings.max_json_number_length,
    )


class MutationOverGet(HTTPException):
    """A mutation sent with GET: 405, to be sent again with POST."""

    def __init__(self) -> None:
        super().__init__(405, "mutations run over POST only")


class SubscriptionOverHttp(HTTPException):
    """A subscription sent as a plain request: it has no stream to answer on."""

    def __init__(self) -> None:
        super().__init__(400, "subscriptions run over a websocket at /graphql (graphql-transport-ws)")


def operation_of(data: dict[str, Any]) -> GraphQLRequestData:
    """One operation's request, with the type checks of Strawberry's own parsing (400s)."""
    query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
    if not isinstance(query, str | None):
        raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
    if not isinstance(variables, dict | None):
        raise HTTPException(400, "The GraphQL operation's `variables` must be an object or null, if provided.")
    if not isinstance(extensions, dict | None):
        raise HTTPException(400, "The GraphQL operation's `extensions` must be an object or null, if provided.")
    return GraphQLRequestData(
        query=query, variables=variables, operation_name=data.get("operationName"), extensions=extensions
    )


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Schema,
        settings: Settings,
        store: Store,
        box: SecretBox,
        persisted: PersistedQueries | None = None,
        wake_dispatcher: Callable[[], None] | None = None,
        registrations: RateLimiter | None = None,
    ) -> None:
        """``registrations``: the budget of persisted query texts per app side (None: unbounded)."""
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.runner = OperationRunner(schema, QueryLimits.from_settings(settings), introspection=settings.introspection)
        self.wake_dispatcher = wake_dispatcher or (lambda: None)
        self.settings = settings
        self.store = store
        self.box = box
        self.persisted = persisted or PersistedQueries(enabled=False, cache_size=1)
        self.registrations = registrations
        self.json_limits = json_limits_of(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's refusals (400, 405, ...) as the JSON error shape, with a code."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        state = scope.get("state", {})
        request = Request(scope, receive)
        try:
            response = await (self.run_post(request) if scope["method"] == "POST" else self.run(request))
        except HTTPException as error:
            code = "LIMIT_EXCEEDED" if isinstance(error, JsonLimitExceeded) else STATUS_CODES.get(error.status_code)
            await send_error(
                send,
                error.status_code,
                error.reason,
                code=code,
                request_id=state.get("request_id"),
                headers={"allow": "POST"} if isinstance(error, MutationOverGet) else None,
                content_type=state.get("media_type", APPLICATION_JSON),
            )
            return
        await response(scope, receive, send)

    async def run_post(self, request: Request) -> Response:
        """A POST of one operation, the common request, answered without Strawberry's request
        adapters and hooks: about a tenth of a cached read's CPU (bench/README.md). The checks
        and answers are those of Strawberry's ``run``, which still serves GET, GraphiQL and
        batches. GraphQLOverHttp has already refused a body that is not JSON."""
        data = self.parse_json(await request.body())
        if not isinstance(data, dict):
            return await self.run(request)  # a batch; the Request keeps the body it read
        request_data = operation_of(data)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        result = await self.execute(request_data, context, sub_response, "POST")
        return self.create_response(process_result(result), sub_response)

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
        return await self.execute(request_data, context, sub_response, request_adapter.method)

    async def execute(
        self, request_data: GraphQLRequestData, context: Context, sub_response: Response, method: str
    ) -> ExecutionResult:
        """Resolve a persisted query's text first, run it (app/graphql/execution.py), and
        register it once it has validated."""
        try:
            query, to_register = await self.persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as error:
            if error.status != 200:
                sub_response.status_code = error.status
            return ExecutionResult(data=None, errors=[ClientError(error.message, error.code)])
        try:
            result = await self.runner.run(
                query,
                request_data.variables,
                context,
                request_data.operation_name,
                HTTP_OPERATIONS.get(method, frozenset()),
                request_data.extensions,
            )
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise MutationOverGet from error
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise SubscriptionOverHttp from error
            raise HTTPException(400, error.as_http_error_reason(method)) from error
        if to_register is not None and query is not None and result.data is not None:
            await self._register(to_register, query, context.principal)
        if result.data is None and any(
            (error.extensions or {}).get("code") == OPERATION_NAME_REQUIRED for error in result.errors or ()
        ):
            sub_response.status_code = 400  # a request error: nothing was run
        return result

    async def _register(self, digest: str, query: str, principal: Principal) -> None:
        """Keep a text that ran under its hash, once, within the registrant's budget: each side of
        an app's rate limits has its own (``app_bucket``), so holders of the public app id cannot
        fill the store with texts nor spend the backend's. Over it, the operation has run all the
        same; its text is not kept."""
        if self.persisted.knows(digest):
            return  # a client that sends the text with every hash costs no write
        if self.registrations is not None:
            bucket = app_bucket(principal)
            wait = await self.registrations.acquire(bucket.key if bucket is not None else "admin")
            if wait is not None:
                log.info("persisted query not registered: the registration budget is spent")
                return
        await self.persisted.register(digest, query)

    async def get_sub_response(self, request: Request | Any) -> Response:
        """What resolvers may set on the answer (status, headers); its media type is the one
        negotiated (GraphQLOverHttp). Strawberry's own builds the same through header edits."""
        sub_response = Response()
        sub_response.status_code = None  # type: ignore[assignment]  # unset, as Strawberry's
        sub_response.raw_headers = []  # not the empty body's content-length
        sub_response.media_type = request.scope.get("state", {}).get("media_type", APPLICATION_JSON)
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """With application/graphql-response+json, a request error (nothing was executed) is a
        4xx without a `data` entry; legacy application/json keeps 200 and `"data": null`. The
        response is Strawberry's (its body, the sub-response's status, headers and background)
        built in one step."""
        negotiated = sub_response.media_type or APPLICATION_JSON
        if negotiated == GRAPHQL_RESPONSE_JSON and isinstance(response_data, dict):
            status = request_error_status(response_data)
            if status is not None:
                response_data = {key: value for key, value in response_data.items() if key != "data"}  # type: ignore[assignment]
                if not sub_response.status_code or sub_response.status_code < 400:
                    sub_response.status_code = status
        response = Response(
            self.encode_json(response_data), status_code=sub_response.status_code or 200, media_type=negotiated
        )
        response.raw_headers.extend(sub_response.raw_headers)
        response.background = sub_response.background
        return response

    @property
    def graphql_ide_html(self) -> str:
        return local_graphiql_html(super().graphql_ide_html)

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data, self.json_limits)

    def encode_json(self, data: object) -> str:
        """orjson: a page of users encodes about ten times faster than with ``json.dumps``.
        Text, not bytes: the websocket side sends it as a text frame, as graphql-transport-ws
        requires. Anything orjson refuses (an integer beyond 64 bits) takes the standard path."""
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            return str(super().encode_json(data))

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
            loaders=Loaders(self.store, principal.app_id),
            wake_dispatcher=self.wake_dispatcher,
        )
