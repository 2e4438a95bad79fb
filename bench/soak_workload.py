"""The soak's operations: a mobile app's devices and a backend, as GraphQL requests.

Each client owns a few devices and walks them through an app's life: an anonymous install
(only X-App-Id), session-token reads and heartbeats, personalize (by the backend's app token
or the user's own token), the signed-in user's reads and property operations, and now and
then a logout (depersonalize). Between device steps the same client acts as the backend with
the app token: user reads with installations, filtered list pages, upserts, property
operations and tags on a fixed pool of users.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

USERS = 60  # the backend's pool of known people; devices personalize into these too
USER_FIELDS = (
    "id externalUserId type givenName tags version customAttributes { key value } "
    "installations { pushRegistrationId isPrimaryDevice lastSeenAt }"
)

UPSERT = """mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { version } userErrors { code field } } }"""
READ = f"query($id: String!) {{ user(by: {{externalUserId: $id}}) {{ {USER_FIELDS} }} }}"
LIST = """query($filter: UserFilter, $first: Int, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id externalUserId type tags customAttributes { key value } } } }"""
TAGS = """mutation($id: String!, $tag: String!) {
  addTags(by: {externalUserId: $id}, tags: [$tag]) { user { version } userErrors { code field } } }"""
OPS = """mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) { user { version } userErrors { code field } } }"""
SAVE = """mutation($prid: String!) {
  saveInstallation(input: {pushRegistrationId: $prid, platform: ANDROID, appVersion: "3.1.0"}) {
    installation { user { id } } sessionToken userErrors { code field } } }"""
ME = "query { me { id type customAttributes { key value } installations { pushRegistrationId } } }"
PERSONALIZE = """mutation($prid: String!, $id: String!) {
  personalize(pushRegistrationId: $prid, identity: {externalUserId: $id}) {
    user { id type } userErrors { code field } } }"""
DEPERSONALIZE = """mutation($prid: String!) {
  depersonalize(pushRegistrationId: $prid) { sessionToken userErrors { code field } } }"""


@dataclass
class Device:
    """One installation as the app on the phone knows it."""

    prid: str
    session: str | None = None  # X-Session-Token while anonymous
    user_id: str | None = None  # the anonymous user's id (for property operations by id)
    external_id: str | None = None  # set once personalized (signed in)


@dataclass
class Pager:
    """The backend's list walk: the filter and cursor of the next page, if one is pending."""

    variables: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    """One GraphQL request: its name in the report, whose credentials, what to send."""

    name: str
    auth: str  # "app", "anonymous", "session" or "user"
    query: str
    variables: dict[str, Any]
    device: Device | None = None
    pager: Pager | None = None


def user_id(rng: random.Random) -> str:
    return f"soak-{rng.randrange(USERS)}"


def seed_record(index: int) -> dict[str, Any]:
    return {
        "externalUserId": f"soak-{index}",
        "givenName": f"Seed {index}",
        "emails": [f"soak-{index}@example.com"],
        "tags": ["soak", f"cohort{index % 4}"],
        "customAttributes": [
            {"key": "plan", "value": {"string": "pro" if index % 3 == 0 else "free"}},
            {"key": "ltv", "value": {"number": f"{index * 7}.50"}},
        ],
    }


def number(value: float) -> dict[str, str]:
    return {"number": f"{value:.2f}"}


def backend_ops(rng: random.Random) -> list[dict[str, Any]]:
    """What a server does to a profile: counters, totals, a cart list, flags, first-seen dates."""
    roll = rng.random()
    sku = {"sku": f"s{rng.randrange(5)}", "qty": 1}
    if roll < 0.35:
        return [{"increment": {"key": "orders", "amount": "1"}}, {"increment": {"key": "ltv", "amount": "19.90"}}]
    if roll < 0.55:
        return [{"append": {"key": "cart", "value": {"objects": [sku]}}}]
    if roll < 0.70:
        return [{"remove": {"key": "cart", "value": {"objects": [sku]}}}]
    if roll < 0.80:
        return [{"setOnce": {"key": "firstPurchase", "value": {"date": "2026-11-25"}}}]
    if roll < 0.90:
        return [{"set": {"key": "plan", "value": {"string": rng.choice(["free", "pro", "team"])}}}]
    if roll < 0.95:  # one operation per key and call
        return [{"set": {"key": "promo", "value": {"boolean": True}}}]
    return [{"unset": "promo"}]


def list_filter(rng: random.Random) -> dict[str, Any]:
    return rng.choice(
        [
            {"tagsAny": [f"cohort{rng.randrange(4)}"]},
            {"type": "CUSTOMER"},
            {"type": "LEAD", "hasChannel": "EMAIL"},
            {"attributes": [{"key": "plan", "eq": {"string": "pro"}}]},
            {"attributes": [{"key": "ltv", "gt": number(rng.randrange(400))}], "tagsAll": ["soak"]},
            {"attributes": [{"key": "orders", "exists": True}]},
        ]
    )


def backend(rng: random.Random, pager: Pager) -> Request:
    roll = rng.random()
    who = user_id(rng)
    if roll < 0.30:
        return Request("user(by:) + installations", "app", READ, {"id": who})
    if roll < 0.50:
        if pager.variables is not None:  # an export walks on through the pages
            return Request("users(filter, first, after)", "app", LIST, pager.variables, pager=pager)
        variables = {"filter": list_filter(rng), "first": rng.choice([10, 20, 50])}
        return Request("users(filter, first)", "app", LIST, variables, pager=pager)
    if roll < 0.62:
        patch = {"externalUserId": who, "givenName": f"N{rng.randrange(1000)}", "tags": ["soak"]}
        return Request("upsertUser", "app", UPSERT, {"input": patch})
    if roll < 0.92:
        variables = {"by": {"externalUserId": who}, "ops": backend_ops(rng)}
        return Request("updateCustomAttributes (app)", "app", OPS, variables)
    return Request("addTags", "app", TAGS, {"id": who, "tag": f"t{rng.randrange(20)}"})


def mobile(rng: random.Random, device: Device) -> Request:
    """The device's next step, by its state: new, anonymous (session) or signed in (user)."""
    prid = {"prid": device.prid}
    if device.session is None and device.external_id is None:
        return Request("saveInstallation (X-App-Id)", "anonymous", SAVE, prid, device)
    roll = rng.random()
    if device.external_id is None:  # anonymous, with a session token
        if roll < 0.35:
            return Request("me (session)", "session", ME, {}, device)
        if roll < 0.60:
            return Request("saveInstallation (session)", "session", SAVE, prid, device)
        if roll < 0.80:
            variables: dict[str, Any] = {
                "by": {"id": device.user_id},
                "ops": [{"increment": {"key": "appOpens", "amount": "1"}}],
            }
            return Request("updateCustomAttributes (session)", "session", OPS, variables, device)
        # Sign-in: the backend personalizes, or the app with the user's own token.
        auth = "app" if roll < 0.90 else "user"
        return Request(f"personalize ({auth})", auth, PERSONALIZE, {**prid, "id": user_id(rng)}, device)
    if roll < 0.35:
        return Request("me (user)", "user", ME, {}, device)
    if roll < 0.55:
        return Request("saveInstallation (user)", "user", SAVE, prid, device)
    if roll < 0.92:
        ops = [
            {"increment": {"key": "appOpens", "amount": "1"}},
            {"set": {"key": "lastScreen", "value": {"string": "home"}}},
        ]
        variables = {"by": {"externalUserId": device.external_id}, "ops": ops}
        return Request("updateCustomAttributes (user)", "user", OPS, variables, device)
    return Request("depersonalize (user)", "user", DEPERSONALIZE, prid, device)


def advance(request: Request, data: dict[str, Any]) -> None:
    """Move the device to its next state after a successful request."""
    payload = next(iter(data.values()))
    if request.pager is not None:
        page = payload["pageInfo"]
        more = page["hasNextPage"] and request.variables["first"] == 10  # walk the small pages
        request.pager.variables = {**request.variables, "after": page["endCursor"]} if more else None
    device = request.device
    if device is None:
        return
    if request.query is SAVE and request.auth == "anonymous":
        device.session = payload["sessionToken"]
        device.user_id = payload["installation"]["user"]["id"]
    elif request.query is PERSONALIZE:
        device.external_id = request.variables["id"]
        device.session = device.user_id = None
    elif request.query is DEPERSONALIZE:
        device.external_id = None
        device.session = payload["sessionToken"]
        device.user_id = None  # learnt from the next `me`
    elif request.query is ME and device.external_id is None and payload is not None:
        device.user_id = payload["id"]


def next_request(rng: random.Random, devices: list[Device], pager: Pager) -> Request:
    """Half mobile, half backend. A device whose anonymous user id is not known yet asks `me` first."""
    if rng.random() < 0.5:
        device = rng.choice(devices)
        if device.session is not None and device.user_id is None:
            return Request("me (session)", "session", ME, {}, device)
        return mobile(rng, device)
    return backend(rng, pager)
