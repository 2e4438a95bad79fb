"""Every mutation goes through the one pipeline: declared scope first, domain errors as userErrors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from app.auth.principal import Principal, Scope
from app.domain.errors import DomainError, ErrorCode
from app.graphql.pipeline import ADMIN, CallerScope, MutationPipeline, ScopeCheck, UndeclaredErrorCode, mutation
from app.graphql.schema import schema
from app.graphql.types.payloads import UserPayload
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


def test_every_mutation_lists_the_codes_it_declares_in_its_description() -> None:
    mutation_type = schema.schema_converter.type_map["Mutation"].definition
    assert isinstance(mutation_type, StrawberryObjectDefinition)
    for field in mutation_type.fields:
        (pipeline,) = field.extensions
        assert isinstance(pipeline, MutationPipeline)
        assert pipeline.codes is not None, f"{field.python_name}: declare the userError codes (codes=...)"
        codes = [code.value for code in ErrorCode if code in pipeline.codes]
        assert field.description is not None
        assert field.description.endswith(f"userErrors codes: {', '.join(codes) or 'none'}.")


@strawberry.type
class _Probe:
    ok: bool = True


@strawberry.type
class _ProbeMutations:
    @mutation(scopes=ADMIN, codes=(ErrorCode.NOT_FOUND,), description="Fails with the code it is given.")  # type: ignore[untyped-decorator]
    async def fail(self, code: str) -> UserPayload:
        raise DomainError(ErrorCode(code), "probe")


_probe_schema = strawberry.Schema(query=_Probe, mutation=_ProbeMutations)
_AS_ADMIN = SimpleNamespace(principal=Principal(scope=Scope.ADMIN))


async def test_a_declared_code_becomes_a_user_error_without_warning() -> None:
    result = await _probe_schema.execute(
        'mutation { fail(code: "NOT_FOUND") { userErrors { code } } }', context_value=_AS_ADMIN
    )
    assert result.errors is None
    assert result.data == {"fail": {"userErrors": [{"code": "NOT_FOUND"}]}}


async def test_a_code_the_mutation_does_not_declare_warns() -> None:
    with pytest.warns(UndeclaredErrorCode, match="fail returned VERSION_CONFLICT"):
        result = await _probe_schema.execute(
            'mutation { fail(code: "VERSION_CONFLICT") { userErrors { code } } }', context_value=_AS_ADMIN
        )
    assert result.data == {"fail": {"userErrors": [{"code": "VERSION_CONFLICT"}]}}


BY_USER = [
    'addTags(by: $by, tags: ["a"])',
    'removeTags(by: $by, tags: ["a"])',
    "deleteUser(by: $by)",
    "updateUser(by: $by, patch: {})",
    'updateCustomAttributes(by: $by, ops: [{unset: "k"}])',
    "unsetChannels(by: $by, types: [EMAIL])",
    "updatePreferences(by: $by, input: {})",
    'mergeUsers(target: $by, source: {externalUserId: "other"})',
]


@pytest.mark.parametrize("call", BY_USER)
@pytest.mark.parametrize(
    ("by", "code"), [({"email": "not-an-email"}, "INVALID_EMAIL"), ({"phone": "12"}, "INVALID_PHONE")]
)
async def test_a_malformed_user_reference_is_a_user_error_the_mutation_declares(
    gateway: Gateway, tenant: Tenant, call: str, by: dict[str, str], code: str
) -> None:
    data = await gateway.data(
        f"mutation($by: UserRef!) {{ result: {call} {{ userErrors {{ code }} }} }}", {"by": by}, token=tenant.app_token
    )
    assert [error["code"] for error in data["result"]["userErrors"]] == [code]
