"""Every mutation goes through the one pipeline: declared scope first, domain errors as userErrors."""

from __future__ import annotations

from strawberry.types.base import StrawberryObjectDefinition

from app.graphql.pipeline import MutationPipeline
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
