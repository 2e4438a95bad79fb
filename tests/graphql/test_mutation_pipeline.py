"""Every mutation goes through the one pipeline: declared scope first, domain errors as userErrors."""

from __future__ import annotations

from strawberry.types.base import StrawberryObjectDefinition

from app.graphql.pipeline import CallerScope, MutationPipeline, ScopeCheck
from app.graphql.schema import schema
from tests.helpers import Gateway, Tenant
from tests.identity_ops import MERGE, assert_forbidden, register_anonymous, session_headers


def test_every_mutation_declares_its_scope_in_the_pipeline() -> None:
    mutation_type = schema.schema_converter.type_map["Mutation"].definition
    assert isinstance(mutation_type, StrawberryObjectDefinition)
    undeclared = [
        field.python_name
        for field in mutation_type.fields
        if [type(extension) for extension in field.extensions] != [MutationPipeline]
    ]
    assert undeclared == []


def test_every_query_and_subscription_declares_its_scope() -> None:
    undeclared = []
    for root in ("Query", "Subscription"):
        root_type = schema.schema_converter.type_map[root].definition
        assert isinstance(root_type, StrawberryObjectDefinition)
        for field in root_type.fields:
            checks = [extension for extension in field.extensions if isinstance(extension, ScopeCheck)]
            if len(checks) != 1 or not isinstance(checks[0].scope, CallerScope) or not checks[0].scope.scopes:
                undeclared.append(f"{root}.{field.python_name}")
    assert undeclared == []


APPS = "query { apps { nodes { id } userErrors { code } } }"
FEED = "query { changeEvents { edges { cursor } userErrors { code } } }"
ME = "query { me { id } }"


async def test_queries_answer_forbidden_outside_their_declared_scope(
    gateway: Gateway, tenant: Tenant, admin_token: str
) -> None:
    """The messages clients saw before the scope moved into the declaration stay the same."""
    apps = await gateway.execute(APPS, {}, token=tenant.app_token)
    assert_forbidden(apps)
    assert apps["errors"][0]["message"] == "admin scope required"
    _, session = await register_anonymous(gateway, tenant, "pipe-q")
    feed = await gateway.execute(FEED, {}, headers=session_headers(session))
    assert_forbidden(feed)
    assert feed["errors"][0]["message"] == "app scope required"
    me = await gateway.execute(ME, {}, token=admin_token)
    assert_forbidden(me)
    assert me["errors"][0]["message"] == "this operation is outside the caller's scope"


async def test_scope_is_decided_before_the_arguments_are_looked_up(gateway: Gateway, tenant: Tenant) -> None:
    """A session calling an app-scope mutation is FORBIDDEN whether or not the named users exist."""
    installation, token = await register_anonymous(gateway, tenant, "pipe-1")
    for source in ({"id": installation["user"]["id"]}, {"externalUserId": "nobody"}):
        body = await gateway.execute(
            MERGE, {"target": {"externalUserId": "x"}, "source": source}, headers=session_headers(token)
        )
        assert_forbidden(body)
        assert body["errors"][0]["message"] == "app scope required"


async def test_domain_errors_become_user_errors_with_the_other_fields_null(gateway: Gateway, tenant: Tenant) -> None:
    data = await gateway.data(
        MERGE,
        {"target": {"externalUserId": "nobody"}, "source": {"externalUserId": "nobody-else"}},
        token=tenant.app_token,
    )
    payload = data["mergeUsers"]
    assert payload["user"] is None
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [("NOT_FOUND", ["target"])]
