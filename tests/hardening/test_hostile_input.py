"""Hostile input, case by case: each one gets a clear refusal, never a 500 or a leak of internals,
and the app's stored documents are exactly as before (compared as a full dump)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import graphql
import httpx
import pytest

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id } userErrors { code field } } }"""
UPDATE = """mutation($by: UserRef!, $patch: UserPatch!, $v: Int) {
  updateUser(by: $by, patch: $patch, expectedVersion: $v) {
    user { id } userErrors { code field } } }"""
OPS = """mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) { user { id } userErrors { code field } } }"""
ADD_TAGS = """mutation($by: UserRef!, $tags: [String!]!) {
  addTags(by: $by, tags: $tags) { user { id } userErrors { code } } }"""
REMOVE_TAGS = """mutation($by: UserRef!, $tags: [String!]!) {
  removeTags(by: $by, tags: $tags) { user { id } userErrors { code } } }"""
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code } } }"
DEFINE = """mutation($input: AttributeDefinitionInput!) {
  defineAttribute(input: $input) { definition { name } userErrors { code field } } }"""
STRICT = """mutation($strict: Boolean!) {
  updateAttributeSettings(strict: $strict) { settings { strict } userErrors { code } } }"""
INSTALLATION_OPS = """mutation($prid: String!, $ops: [AttributeOp!]!) {
  updateInstallationCustomAttributes(pushRegistrationId: $prid, ops: $ops) {
    installation { id } userErrors { code field } } }"""
SAVE = """mutation($input: InstallationInput!) {
  saveInstallation(input: $input) { installation { id } sessionToken userErrors { code field } } }"""
SET_PRIMARY = """mutation($prid: String!, $primary: Boolean!) {
  setPrimaryInstallation(pushRegistrationId: $prid, primary: $primary) { installation { id } userErrors { code } } }"""
PERSONALIZE = """mutation($prid: String!, $identity: UserIdentityInput!, $attributes: UserPatch) {
  personalize(pushRegistrationId: $prid, identity: $identity, attributes: $attributes) {
    user { id } userErrors { code field } } }"""
DEPERSONALIZE = """mutation($prid: String!) {
  depersonalize(pushRegistrationId: $prid) { installation { id } sessionToken userErrors { code } } }"""
MERGE = """mutation($target: UserRef!, $source: UserRef!) {
  mergeUsers(target: $target, source: $source) { user { id } userErrors { code field } } }"""
ADD_CHANNEL = """mutation($by: UserRef!, $channel: ChannelInput!) {
  addChannel(by: $by, channel: $channel) { user { id } userErrors { code field } } }"""
REMOVE_CHANNEL = """mutation($by: UserRef!, $id: ID!) {
  removeChannel(by: $by, channelId: $id) { user { id } userErrors { code field } } }"""
UNSET_CHANNELS = """mutation($by: UserRef!, $types: [ChannelType!]!) {
  unsetChannels(by: $by, types: $types) { user { id } userErrors { code field } } }"""
UPDATE_CHANNELS = """mutation($by: UserRef!, $add: [ChannelInput!], $remove: [ChannelMatch!], $unset: [ChannelType!]) {
  updateChannels(by: $by, add: $add, remove: $remove, unset: $unset) { user { id } userErrors { code field } } }"""
PREFERENCES = """mutation($by: UserRef!, $input: PreferencesInput!) {
  updatePreferences(by: $by, input: $input) { user { id } userErrors { code field } } }"""
CATEGORY = """mutation($input: PreferenceCategoryInput!) {
  definePreferenceCategory(input: $input) { category { name } userErrors { code field } } }"""
REMOVE_CATEGORY = """mutation($name: String!) {
  removePreferenceCategory(name: $name) { userErrors { code field } } }"""
BULK = """mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { status failures { index code } userErrors { code field } } }"""
CREATE_APP = "mutation($name: String!) { createApp(name: $name) { app { id } userErrors { code field } } }"
CREATE_KEY = "mutation($appId: ID!) { createAppKey(appId: $appId) { key { id } userErrors { code field } } }"
REVOKE_KEY = """mutation($appId: ID!, $keyId: ID!) {
  revokeAppKey(appId: $appId, keyId: $keyId) { key { id } userErrors { code field } } }"""
UPDATE_APP = """mutation($appId: ID!, $settings: AppSettingsInput!) {
  updateApp(appId: $appId, settings: $settings) { app { id } userErrors { code field } } }"""
CREATE_WEBHOOK = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { code field } } }"""
UPDATE_WEBHOOK = """mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(id: $id, input: $input) { endpoint { id } userErrors { code field } } }"""
DELETE_WEBHOOK = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code field } } }"
ROTATE_WEBHOOK = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret userErrors { code field } } }"
REDELIVER_WEBHOOK = """mutation($id: ID!, $since: DateTime!) {
  redeliverWebhookEvents(endpointId: $id, since: $since) { count userErrors { code field } } }"""

VICTIM = {"externalUserId": "victim"}
DEVICE = "victim-device"  # an anonymous installation every case starts with (see the seed)
MB = 1024 * 1024
LEAKS = ("Traceback", 'File "', "pymongo", "bson", "mongoeco", "/app/", "site-packages", "xoxb-secret-token")


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"externalUserId": "victim", "customAttributes": [{"key": key, "value": value}]}}


def device_ops(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"prid": DEVICE, "ops": list(ops)}


def device(**fields: Any) -> dict[str, Any]:
    return {"input": {"pushRegistrationId": DEVICE, "platform": "IOS", **fields}}


def personalize(identity: dict[str, Any], attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"prid": DEVICE, "identity": identity, "attributes": attributes}


def channel(**member: Any) -> dict[str, Any]:
    return {"by": VICTIM, "channel": member}


def preferences(**fields: Any) -> dict[str, Any]:
    return {"by": VICTIM, "input": fields}


@dataclass(frozen=True)
class Case:
    query: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of a JSON body
    content_type: str = "application/json"
    # Who sends it: the app token, the victim's user token, the device's session token,
    # only X-App-Id (an SDK before registration), or the admin token.
    auth: Literal["app", "user", "session", "anonymous", "admin"] = "app"
    code: str | None = None  # the refusal's code (userError or GraphQL error), when one is expected
    max_response: int = 20_000  # a refusal does not echo a megabyte back


CASES: dict[str, Case] = {
    # Operator, path and prototype injection through attribute keys.
    "operator key $where": Case(UPSERT, attr("$where", {"string": "1"})),
    "operator key $set in set op": Case(
        OPS, {"by": VICTIM, "ops": [{"set": {"key": "$set", "value": {"string": "x"}}}]}
    ),
    "dotted key": Case(UPSERT, attr("profile.admin", {"boolean": True})),
    "prototype key __proto__": Case(UPSERT, attr("__proto__", {"string": "x"})),
    "reserved prefix ss_": Case(UPSERT, attr("ss_internal", {"string": "x"})),
    "operator key in unset": Case(OPS, {"by": VICTIM, "ops": [{"unset": "$where"}]}),
    "operator key in object field": Case(UPSERT, attr("items", {"objects": [{"$gt": 1}]})),
    "dotted object field": Case(UPSERT, attr("items", {"objects": [{"a.b": 1}]})),
    "prototype object field": Case(UPSERT, attr("items", {"objects": [{"__proto__": {"admin": True}}]})),
    "deeply nested object": Case(UPSERT, attr("items", {"objects": [nested(200)]})),
    "mixed list inside an object": Case(UPSERT, attr("items", {"objects": [{"a": [1, "2", True]}]})),
    "list of lists inside an object": Case(UPSERT, attr("o", {"object": {"a": [[1], [2]]}})),
    "object nested 50 deep": Case(UPSERT, attr("o", {"object": nested(50)}), code="LIMIT_EXCEEDED"),
    "NUL in an object key": Case(UPSERT, attr("o", {"object": {"a": {"b\u0000": 1}}}), code="INVALID_KEY"),
    "operator key in an object": Case(UPSERT, attr("o", {"object": {"a": {"$where": 1}}}), code="RESERVED_KEY"),
    "dotted key in an object": Case(UPSERT, attr("o", {"object": {"a.b": 1}}), code="RESERVED_KEY"),
    "huge list of strings": Case(UPSERT, attr("l", {"strings": ["x"] * 100_000}), code="LIMIT_EXCEEDED"),
    "NUL in a string value": Case(UPSERT, attr("s", {"string": "a\u0000b"}), code="INVALID_INPUT"),
    "trailing newline in a key": Case(UPSERT, attr("plan\n", {"string": "x"}), code="INVALID_KEY"),
    "huge list of objects": Case(UPSERT, attr("items", {"objects": [{"n": i} for i in range(10_000)]})),
    "operator key defined": Case(DEFINE, {"input": {"name": "$where", "type": "STRING"}}),
    # Sizes.
    "1 MB given name": Case(UPSERT, {"input": {"externalUserId": "victim", "givenName": "x" * MB}}),
    "1 MB attribute string": Case(UPSERT, attr("bio", {"string": "x" * MB})),
    "1 MB externalUserId": Case(UPSERT, {"input": {"externalUserId": "x" * MB}}),
    "1 MB tag": Case(ADD_TAGS, {"by": VICTIM, "tags": ["x" * MB]}),
    "huge tag list": Case(ADD_TAGS, {"by": VICTIM, "tags": [f"t{i}" for i in range(20_000)]}),
    "huge removal list": Case(REMOVE_TAGS, {"by": VICTIM, "tags": [f"t{i}" for i in range(20_000)]}),
    "huge email list": Case(
        UPSERT,
        {
            "input": {
                "externalUserId": "victim",
                "emails": [f"u{i}@example.com" for i in range(5_000)],
            }
        },
    ),
    # Identifiers.
    "cyrillic confusable in email domain": Case(UPSERT, {"input": {"emails": ["victim@ex\u0430mple.com"]}}),
    "greek confusable in email local part": Case(UPSERT, {"input": {"emails": ["vict\u03b9m@example.com"]}}),
    "right-to-left override in email": Case(UPSERT, {"input": {"emails": ["victim\u202e@example.com"]}}),
    "NUL byte in email": Case(UPSERT, {"input": {"emails": ["victim@example.com\u0000"]}}),
    "operator object as email ref": Case(DELETE, {"by": {"email": {"$ne": None}}}),
    "operator object as externalUserId": Case(UPSERT, {"input": {"externalUserId": {"$gt": ""}}}),
    "phone that is not E.164": Case(UPSERT, {"input": {"phones": ["-1"]}}),
    "malformed global id": Case(DELETE, {"by": {"id": "!!not-base64!!"}}),
    "global id of another type": Case(DELETE, {"by": {"id": gid("App:victim")}}),
    "global id with an operator": Case(DELETE, {"by": {"id": gid('User:{"$ne": null}')}}),
    # Numbers and dates.
    "number with huge exponent": Case(UPSERT, attr("ltv", {"number": "1e999999999"})),
    "number with 100 digits": Case(UPSERT, attr("ltv", {"number": "9" * 100})),
    "number NaN": Case(UPSERT, attr("ltv", {"number": "NaN"})),
    "number Infinity": Case(UPSERT, attr("ltv", {"number": "-Infinity"})),
    "increment by a huge amount": Case(OPS, {"by": VICTIM, "ops": [{"increment": {"key": "n", "amount": "1e999999"}}]}),
    "increment by the largest Decimal128": Case(
        OPS,
        {"by": VICTIM, "ops": [{"increment": {"key": "n", "amount": "9.999999999999999999999999999999999E+6144"}}]},
        code="LIMIT_EXCEEDED",
    ),
    "1,000 distinct keys": Case(
        OPS,
        {"by": VICTIM, "ops": [{"set": {"key": f"k{i}", "value": {"string": "x"}}} for i in range(1_000)]},
        code="LIMIT_EXCEEDED",
    ),
    "dotted path into an object": Case(
        OPS,
        {"by": VICTIM, "ops": [{"set": {"key": "o", "path": ["a.b"], "value": {"string": "x"}}}]},
        code="RESERVED_KEY",
    ),
    "operator path into an object": Case(
        OPS, {"by": VICTIM, "ops": [{"unsetPath": {"key": "o", "path": ["$where"]}}]}, code="RESERVED_KEY"
    ),
    "negative expected version": Case(UPDATE, {"by": VICTIM, "patch": {"givenName": "x"}, "v": -1}),
    "expected version beyond Int": Case(UPDATE, {"by": VICTIM, "patch": {"givenName": "x"}, "v": 2**53}),
    "impossible birthday": Case(UPDATE, {"by": VICTIM, "patch": {"birthday": "2024-13-45"}}),
    "birthday in year 0": Case(UPDATE, {"by": VICTIM, "patch": {"birthday": "0000-01-01"}}),
    "malformed datetime": Case(UPSERT, attr("seen", {"datetime": "yesterday"})),
    "two members of a oneOf": Case(UPSERT, attr("x", {"string": "a", "number": "1"})),
    # Every mutation, with the ways each one can be abused.
    "updateCustomAttributes setOnce dotted key": Case(
        OPS, {"by": VICTIM, "ops": [{"setOnce": {"key": "a.b", "value": {"string": "x"}}}]}, code="RESERVED_KEY"
    ),
    "updateCustomAttributes increment NaN": Case(
        OPS, {"by": VICTIM, "ops": [{"increment": {"key": "n", "amount": "NaN"}}]}, code="TYPE_MISMATCH"
    ),
    "updateCustomAttributes append operator field": Case(
        OPS, {"by": VICTIM, "ops": [{"append": {"key": "l", "value": {"objects": [{"$inc": 1}]}}}]}, code="RESERVED_KEY"
    ),
    "updateCustomAttributes remove prototype key": Case(
        OPS,
        {"by": VICTIM, "ops": [{"remove": {"key": "__proto__", "value": {"objects": [{"a": 1}]}}}]},
        code="INVALID_KEY",
    ),
    "updateCustomAttributes 1 MB set": Case(
        OPS, {"by": VICTIM, "ops": [{"set": {"key": "bio", "value": {"string": "x" * MB}}}]}, code="LIMIT_EXCEEDED"
    ),
    "updateCustomAttributes 10k operations": Case(
        OPS,
        {"by": VICTIM, "ops": [{"increment": {"key": f"k{i}", "amount": "1"}} for i in range(10_000)]},
        code="LIMIT_EXCEEDED",
    ),
    "installation set operator key": Case(
        INSTALLATION_OPS, device_ops({"set": {"key": "$where", "value": {"string": "1"}}}), code="RESERVED_KEY"
    ),
    "installation setOnce dotted key": Case(
        INSTALLATION_OPS, device_ops({"setOnce": {"key": "a.b", "value": {"boolean": True}}}), code="RESERVED_KEY"
    ),
    "installation increment Infinity": Case(
        INSTALLATION_OPS, device_ops({"increment": {"key": "n", "amount": "Infinity"}}), code="TYPE_MISMATCH"
    ),
    "installation append deeply nested": Case(
        INSTALLATION_OPS,
        device_ops({"append": {"key": "l", "value": {"objects": [nested(200)]}}}),
        code="LIMIT_EXCEEDED",  # the request JSON's nesting limit, before GraphQL coerces it
    ),
    "installation remove operator field": Case(
        INSTALLATION_OPS,
        device_ops({"remove": {"key": "l", "value": {"objects": [{"$gt": ""}]}}}),
        code="RESERVED_KEY",
    ),
    "installation unset reserved prefix": Case(INSTALLATION_OPS, device_ops({"unset": "ss_os"}), code="RESERVED_KEY"),
    "installation ops with the session token": Case(
        INSTALLATION_OPS,
        device_ops({"set": {"key": "ok", "value": {"string": "x"}}}, {"unset": "ok"}),
        auth="session",
        code="INVALID_INPUT",
    ),
    "installation ops on an operator id": Case(
        INSTALLATION_OPS, {"prid": {"$ne": None}, "ops": [{"unset": "a"}]}, code="BAD_USER_INPUT"
    ),
    "saveInstallation operator key": Case(
        SAVE, device(customAttributes=[{"key": "$set", "value": {"string": "x"}}]), code="RESERVED_KEY"
    ),
    "saveInstallation time zone path": Case(SAVE, device(timezone="../../../etc/passwd"), code="INVALID_INPUT"),
    "saveInstallation unknown platform": Case(SAVE, device(platform="TOASTER"), code="BAD_USER_INPUT"),
    "saveInstallation 1 MB app version": Case(SAVE, device(appVersion="x" * MB), code="LIMIT_EXCEEDED"),
    "anonymous saveInstallation of a known device": Case(SAVE, device(), auth="anonymous", code="FORBIDDEN"),
    "anonymous saveInstallation 1 MB id": Case(
        SAVE, {"input": {"pushRegistrationId": "x" * MB, "platform": "IOS"}}, auth="anonymous", code="LIMIT_EXCEEDED"
    ),
    "anonymous saveInstallation dotted key": Case(
        SAVE,
        {
            "input": {
                "pushRegistrationId": "new-device",
                "platform": "WEB",
                "customAttributes": [{"key": "a.b", "value": {"string": "x"}}],
            }
        },
        auth="anonymous",
        code="RESERVED_KEY",
    ),
    "anonymous saveInstallation blank id": Case(
        SAVE, {"input": {"pushRegistrationId": " \t ", "platform": "IOS"}}, auth="anonymous", code="INVALID_INPUT"
    ),
    "setPrimaryInstallation 1 MB id": Case(SET_PRIMARY, {"prid": "x" * MB, "primary": True}, code="NOT_FOUND"),
    "setPrimaryInstallation string as boolean": Case(
        SET_PRIMARY, {"prid": DEVICE, "primary": "yes"}, code="BAD_USER_INPUT"
    ),
    "personalize operator externalUserId": Case(
        PERSONALIZE, personalize({"externalUserId": {"$ne": None}}), code="BAD_USER_INPUT"
    ),
    "personalize null externalUserId": Case(PERSONALIZE, personalize({"externalUserId": "nUlL"}), code="INVALID_INPUT"),
    "personalize confusable email": Case(
        PERSONALIZE, personalize({"emails": ["victim@ex\u0430mple.com"]}), code="INVALID_EMAIL"
    ),
    "personalize operator attribute key": Case(
        PERSONALIZE,
        personalize(
            {"externalUserId": "newcomer"}, {"customAttributes": [{"key": "$where", "value": {"string": "1"}}]}
        ),
        code="RESERVED_KEY",
    ),
    "personalize as the victim's session": Case(
        PERSONALIZE, personalize({"externalUserId": "victim"}), auth="session", code="FORBIDDEN"
    ),
    "depersonalize operator id": Case(DEPERSONALIZE, {"prid": {"$exists": True}}, code="BAD_USER_INPUT"),
    "depersonalize 1 MB id": Case(DEPERSONALIZE, {"prid": "x" * MB}, code="NOT_FOUND"),
    "mergeUsers into itself": Case(MERGE, {"target": VICTIM, "source": VICTIM}, code="INVALID_INPUT"),
    "mergeUsers malformed global id": Case(
        MERGE, {"target": VICTIM, "source": {"id": "!!not-base64!!"}}, code="INVALID_INPUT"
    ),
    "mergeUsers with a user token": Case(
        MERGE, {"target": VICTIM, "source": {"email": "victim@example.com"}}, auth="user", code="FORBIDDEN"
    ),
    "addChannel confusable email": Case(
        ADD_CHANNEL, channel(email={"address": "victim@ex\u0430mple.com"}), code="INVALID_EMAIL"
    ),
    # graphql-core's oneOf check is a validation error: a message, no code.
    "addChannel two oneOf members": Case(
        ADD_CHANNEL, channel(email={"address": "a@example.com"}, sms={"phone": "+15550100"})
    ),
    "addChannel SMS without E.164": Case(ADD_CHANNEL, channel(sms={"phone": "call me"}), code="INVALID_PHONE"),
    "addChannel javascript webhook": Case(
        ADD_CHANNEL, channel(slack={"incomingWebhookUrl": "javascript:alert(1)"}), code="INVALID_INPUT"
    ),
    "addChannel file web push endpoint": Case(
        ADD_CHANNEL,
        channel(webPush={"endpoint": "file:///etc/passwd", "p256dh": "x", "auth": "y"}),
        code="INVALID_INPUT",
    ),
    "addChannel 1 MB push token": Case(ADD_CHANNEL, channel(iosPush={"token": "x" * MB}), code="LIMIT_EXCEEDED"),
    "removeChannel operator id": Case(REMOVE_CHANNEL, {"by": VICTIM, "id": '{"$ne": null}'}, code="INVALID_INPUT"),
    "updateChannels operator address": Case(
        UPDATE_CHANNELS,
        {"by": VICTIM, "remove": [{"value": {"type": "EMAIL", "address": '{"$ne": null}'}}]},
        code="INVALID_EMAIL",
    ),
    "updateChannels 10k removals": Case(
        UPDATE_CHANNELS, {"by": VICTIM, "remove": [{"id": "x"}] * 10_000}, code="LIMIT_EXCEEDED"
    ),
    "updateChannels valid add, bad one after": Case(
        UPDATE_CHANNELS,
        {"by": VICTIM, "add": [{"email": {"address": "ok@example.com"}}, {"sms": {"phone": "call me"}}]},
        code="INVALID_PHONE",
    ),
    "unsetChannels unknown type": Case(UNSET_CHANNELS, {"by": VICTIM, "types": ["PIGEON"]}, code="BAD_USER_INPUT"),
    "updatePreferences time zone path": Case(
        PREFERENCES, preferences(timezone="../../../etc/passwd"), code="INVALID_INPUT"
    ),
    "updatePreferences NUL in language": Case(PREFERENCES, preferences(language="en\u0000"), code="INVALID_INPUT"),
    "updatePreferences operator category": Case(
        PREFERENCES, preferences(categories=[{"category": "$where", "optedIn": False}]), code="NOT_FOUND"
    ),
    "updatePreferences huge category list": Case(
        PREFERENCES,
        preferences(categories=[{"category": f"c{i}", "optedIn": False} for i in range(10_000)]),
        code="LIMIT_EXCEEDED",
    ),
    "definePreferenceCategory operator name": Case(CATEGORY, {"input": {"name": "$where"}}, code="INVALID_INPUT"),
    "definePreferenceCategory 1 MB description": Case(
        CATEGORY, {"input": {"name": "news", "description": "x" * MB}}, code="LIMIT_EXCEEDED"
    ),
    "removePreferenceCategory operator name": Case(REMOVE_CATEGORY, {"name": '{"$ne": null}'}, code="NOT_FOUND"),
    "defineAttribute operator object field": Case(
        DEFINE,
        {"input": {"name": "items", "type": "LIST_OF_OBJECTS", "objectFields": [{"name": "$gt", "type": "STRING"}]}},
        code="RESERVED_KEY",
    ),
    "defineAttribute nested list field": Case(
        DEFINE,
        {
            "input": {
                "name": "items",
                "type": "LIST_OF_OBJECTS",
                "objectFields": [{"name": "a", "type": "LIST_OF_OBJECTS"}],
            }
        },
        code="INVALID_INPUT",
    ),
    "updateAttributeSettings string as boolean": Case(STRICT, {"strict": "on"}, code="BAD_USER_INPUT"),
    "updateAttributeSettings with a user token": Case(STRICT, {"strict": True}, auth="user", code="FORBIDDEN"),
    "bulkUpsertUsers 1001 records": Case(
        BULK, {"records": [{"externalUserId": f"b{i}"} for i in range(1_001)]}, code="LIMIT_EXCEEDED"
    ),
    "bulkUpsertUsers hostile records": Case(
        BULK,
        {
            "records": [
                {"externalUserId": "b1", "customAttributes": [{"key": "$where", "value": {"string": "1"}}]},
                {"emails": ["victim@ex\u0430mple.com"]},
                {"externalUserId": "b3", "customAttributes": [{"key": "n", "value": {"number": "1e999999999"}}]},
            ]
        },
        code="RESERVED_KEY",
    ),
    "createApp 1 MB name": Case(CREATE_APP, {"name": "x" * MB}, auth="admin", code="LIMIT_EXCEEDED"),
    "createApp with an app token": Case(CREATE_APP, {"name": "mine"}, code="FORBIDDEN"),
    "createAppKey operator app id": Case(CREATE_KEY, {"appId": '{"$ne": null}'}, auth="admin", code="NOT_FOUND"),
    "revokeAppKey with an app token": Case(REVOKE_KEY, {"appId": "x", "keyId": "y"}, code="FORBIDDEN"),
    "updateApp operator app id": Case(
        UPDATE_APP,
        {"appId": '{"$ne": null}', "settings": {"externalUserIdAsEmail": False}},
        auth="admin",
        code="NOT_FOUND",
    ),
    "updateApp with an app token": Case(
        UPDATE_APP, {"appId": "x", "settings": {"externalUserIdAsEmail": False}}, code="FORBIDDEN"
    ),
    # An id that is the victim's email takes nothing from the victim.
    "upsertUser with the victim's email as its id": Case(
        UPSERT, {"input": {"externalUserId": "VICTIM@example.com"}}, code="USER_MERGE_INTERRUPTED"
    ),
    # Long lists of bad items: one refusal, not one error per item echoed back.
    "upsertUser 10k bad attribute keys": Case(
        UPSERT,
        {
            "input": {
                "externalUserId": "victim",
                "customAttributes": [{"key": f"${i}", "value": {"boolean": True}} for i in range(10_000)],
            }
        },
        code="LIMIT_EXCEEDED",
    ),
    "saveInstallation 10k bad attribute keys": Case(
        SAVE,
        device(customAttributes=[{"key": f"${i}", "value": {"boolean": True}} for i in range(10_000)]),
        code="LIMIT_EXCEEDED",
    ),
    "upsertUser 10k bad channels": Case(
        UPSERT,
        {"input": {"externalUserId": "victim", "channels": [{"sms": {"phone": "x"}} for _ in range(10_000)]}},
        code="LIMIT_EXCEEDED",
    ),
    "personalize 10k bad emails": Case(
        PERSONALIZE, personalize({"emails": [f"not-an-email-{i}" for i in range(10_000)]}), code="LIMIT_EXCEEDED"
    ),
    "bulkUpsertUsers 1000 bad records": Case(
        BULK,
        {"records": [{"emails": [f"bad-{i}"]} for i in range(1_000)]},
        code="INVALID_EMAIL",
        max_response=60_000,  # one failure per record is the contract: 1,000 short ones
    ),
    # Bodies and content types.
    "invalid UTF-8 body": Case(
        raw=b'{"query": "mutation { deleteUser(by: {externalUserId: \\"\xff\xfe\\"}) { deletedUserId } }"}'
    ),
    "malformed JSON body": Case(raw=b'{"query": "mutation { deleteUser(by: {externalUserId: \\"victim\\"})'),
    "JSON that is not an object": Case(
        raw=b'"mutation { deleteUser(by: {externalUserId: \\"victim\\"}) { deletedUserId } }"'
    ),
    "batched operations": Case(
        raw=json.dumps(
            [{"query": 'mutation { deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }'}]
        ).encode()
    ),
    "oversized body": Case(
        raw=b'{"query": "'
        + b" " * (3 * MB)
        + b'mutation { deleteUser(by: {externalUserId: \\"victim\\"}) { deletedUserId } }"}'
    ),
    "text/plain body": Case(
        raw=json.dumps({"query": 'mutation { deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }'}).encode(),
        content_type="text/plain",
    ),
    "form body": Case(
        raw=b"query=mutation+%7B+deleteUser%28by%3A+%7BexternalUserId%3A+%22victim%22%7D%29+%7B+deletedUserId+%7D+%7D",
        content_type="application/x-www-form-urlencoded",
    ),
    # Request JSON past its limits, and documents that are request errors.
    "JSON variables nested 10,000 deep": Case(
        raw=json.dumps({"query": UPSERT}).encode()[:-1]
        + b', "variables": {"input": '
        + b'{"a": ' * 10_000
        + b"1"
        + b"}" * 10_000
        + b"}}",
        code="LIMIT_EXCEEDED",
    ),
    "5,000-digit integer variable": Case(
        raw=json.dumps({"query": UPDATE}).encode()[:-1]
        + b', "variables": {"by": {"externalUserId": "victim"}, "patch": {"givenName": "x"}, "v": '
        + b"9" * 5_000
        + b"}}",
        code="LIMIT_EXCEEDED",
    ),
    "lone surrogate in a string variable": Case(
        raw=json.dumps(
            {"query": UPSERT, "variables": {"input": {"externalUserId": "victim", "givenName": "\ud800"}}}
        ).encode(),
        code="BAD_REQUEST",
    ),
    "anonymous saveInstallation lone surrogate": Case(
        raw=json.dumps(
            {"query": SAVE, "variables": {"input": {"pushRegistrationId": "\udfff", "platform": "IOS"}}}
        ).encode(),
        auth="anonymous",
        code="BAD_REQUEST",
    ),
    "NaN as a JSON number": Case(raw=b'{"query": "query($n: Float) { __typename }", "variables": {"n": NaN}}'),
    "batch item that is not an object": Case(raw=b"[1]"),
    "batch item null": Case(raw=b"[null]"),
    "several operations without operationName": Case(
        raw=json.dumps({"query": "query A { __typename } " + DELETE.replace("mutation(", "mutation B(")}).encode(),
        code="OPERATION_NAME_REQUIRED",
    ),
    "anonymous bulkUpsertUsers of 100,000 records": Case(
        BULK, {"records": [{} for _ in range(100_000)]}, auth="anonymous", code="LIMIT_EXCEEDED"
    ),
    "anonymous bulkUpsertUsers of 1,000 records": Case(
        BULK, {"records": [{"externalUserId": f"b{i}"} for i in range(1_000)]}, auth="anonymous", code="FORBIDDEN"
    ),
    "anonymous fragment fan-out": Case(
        "mutation { ...F0 }\n"
        + "\n".join(f"fragment F{i} on Mutation {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
        + '\nfragment F20 on Mutation { deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }',
        auth="anonymous",
        code="FORBIDDEN",
    ),
    "fragment fan-out of aliases": Case(
        "mutation { ...F0 }\n"
        + "\n".join(f"fragment F{i} on Mutation {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
        + '\nfragment F20 on Mutation { d: deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }'
    ),
    "slack access token echoed in a coercion error": Case(
        ADD_CHANNEL,
        channel(slack={"accessToken": "xoxb-secret-token", "userId": "U1", "bogus": True}),
        code="BAD_USER_INPUT",
    ),
    "multipart body": Case(
        raw=b'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
    # Webhooks: no request to the cloud metadata service or the private network, no huge input.
    "webhook to the metadata address": Case(
        CREATE_WEBHOOK, {"input": {"url": "https://169.254.169.254/latest/meta-data"}}, code="INVALID_INPUT"
    ),
    "webhook to a private network": Case(CREATE_WEBHOOK, {"input": {"url": "https://10.0.0.1/"}}, code="INVALID_INPUT"),
    "webhook over http": Case(CREATE_WEBHOOK, {"input": {"url": "http://93.184.216.34/"}}, code="INVALID_INPUT"),
    # Past the request JSON limits (a 1 MiB string, 2,000 items per list): refused before coercion.
    "1 MB webhook URL": Case(CREATE_WEBHOOK, {"input": {"url": "https://" + "a" * MB}}, code="LIMIT_EXCEEDED"),
    "huge webhook event type list": Case(
        CREATE_WEBHOOK, {"input": {"url": "https://1.1.1.1/", "eventTypes": ["x"] * 20_000}}, code="LIMIT_EXCEEDED"
    ),
    "webhook from a user token": Case(CREATE_WEBHOOK, {"input": {"url": "https://1.1.1.1/"}}, auth="user"),
    "1 MB webhook id on update": Case(
        UPDATE_WEBHOOK, {"id": "x" * MB, "input": {"enabled": True}}, code="NOT_FOUND", max_response=5_000
    ),
    "operator webhook id on delete": Case(DELETE_WEBHOOK, {"id": '{"$ne": null}'}, code="NOT_FOUND"),
    "unknown webhook rotated": Case(ROTATE_WEBHOOK, {"id": "whe_nope"}, code="NOT_FOUND"),
    "unknown webhook redelivered": Case(
        REDELIVER_WEBHOOK, {"id": "whe_nope", "since": "2020-01-01T00:00:00Z"}, code="NOT_FOUND"
    ),
}


async def dump(store: Store, app_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the app, in a stable order, and how many apps there are."""
    names = [
        "users",
        "installations",
        "history",
        "sessions",
        "attribute_definitions",
        "app_keys",
        "preference_categories",
        "outbox",
        "webhook_endpoints",
    ]
    result = {name: await store.db[name].find({"appId": app_id}).sort("_id", 1).to_list() for name in names}
    result["apps"] = await store.apps.find({"_id": app_id}).to_list()
    result["app count"] = [{"n": await store.apps.count_documents({})}]  # admin cases create none
    return result


async def seed(gateway: Gateway, tenant: Tenant) -> str:
    """The victim (a user with an email and a tag) and an anonymous installation; its session token."""
    victim = {"input": {"externalUserId": "victim", "emails": ["victim@example.com"], "tags": ["kept"]}}
    assert (await gateway.data(UPSERT, victim, token=tenant.app_token))["upsertUser"]["userErrors"] == []
    saved = await gateway.data(
        SAVE,
        {
            "input": {
                "pushRegistrationId": DEVICE,
                "platform": "IOS",
                "customAttributes": [{"key": "l", "value": {"objects": [{"a": 1}]}}],
            }
        },
        headers={"x-app-id": tenant.app_id},
    )
    token: str = saved["saveInstallation"]["sessionToken"]
    return token


def credentials(case: Case, tenant: Tenant, session_token: str, admin_token: str) -> dict[str, str]:
    match case.auth:
        case "app":
            return {"authorization": f"Bearer {tenant.app_token}"}
        case "user":
            return {"authorization": f"Bearer {tenant.user_token('victim')}"}
        case "session":
            return {"x-session-token": session_token}
        case "anonymous":
            return {"x-app-id": tenant.app_id}
        case "admin":
            return {"authorization": f"Bearer {admin_token}"}


def test_the_table_covers_every_mutation() -> None:
    schema = graphql.build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    assert schema.mutation_type is not None
    named = {
        node.name.value
        for case in CASES.values()
        if case.query
        for node in graphql.parse(case.query).definitions[0].selection_set.selections  # type: ignore[attr-defined]
    }
    assert set(schema.mutation_type.fields) - named == set()


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_input_is_refused_and_stores_nothing(
    name: str, http: httpx.AsyncClient, gateway: Gateway, tenant: Tenant, store: Store, admin_token: str
) -> None:
    session_token = await seed(gateway, tenant)
    before = await dump(store, tenant.app_id)
    case = CASES[name]
    headers = {**credentials(case, tenant, session_token, admin_token), "content-type": case.content_type}
    if case.raw is not None:
        response = await http.post("/graphql", content=case.raw, headers=headers)
    else:
        response = await http.post("/graphql", json={"query": case.query, "variables": case.variables}, headers=headers)

    assert response.status_code < 500, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    refused = response.status_code >= 400 or bool(body.get("errors")) or _user_errors(body)
    assert refused, f"accepted: {str(body)[:300]}"
    assert all(error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR" for error in body.get("errors", []))
    if case.code is not None:
        assert case.code in _codes(body), str(body)[:300]
    text = response.text
    assert not any(leak in text for leak in LEAKS), text[:500]
    assert len(text) < case.max_response
    assert await dump(store, tenant.app_id) == before


def _user_errors(body: dict[str, Any]) -> bool:
    """userErrors, or (bulkUpsertUsers) failed records."""
    payloads = (body.get("data") or {}).values()
    return any(payload and (payload.get("userErrors") or payload.get("failures")) for payload in payloads)


def _codes(body: dict[str, Any]) -> set[str]:
    codes = {error.get("extensions", {}).get("code") for error in body.get("errors", [])}
    for payload in (body.get("data") or {}).values():
        for item in (payload or {}).get("userErrors", []) + (payload or {}).get("failures", []):
            codes.add(item["code"])
    return codes
