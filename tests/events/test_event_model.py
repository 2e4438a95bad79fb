"""The change events a history event becomes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.events import EVENT_TYPES, change_events, global_user_id, public_document
from app.domain.history import EventKind

AT = datetime(2026, 1, 1, tzinfo=UTC)


def convert(kind: EventKind, details: dict[str, object]) -> list[dict[str, object]]:
    return change_events(
        app_id="app_1", user_id="u1", kind=kind.value, details=details, occurred_at=AT, version=3, external_user_id="a"
    )


def test_every_history_kind_has_an_event_type() -> None:
    for kind in EventKind:
        details: dict[str, object] = {"sourceUserId": "u0"} if kind is EventKind.MERGED else {}
        assert all(event["type"] in EVENT_TYPES for event in convert(kind, details))


def test_update_names_fields_and_attribute_keys_only() -> None:
    [event] = convert(EventKind.UPDATED, {"fields": ["givenName"], "customAttributes": ["ltv"], "operations": ["SET"]})
    assert event == {
        "type": "user.updated",
        "occurredAt": AT,
        "appId": "app_1",
        "userId": global_user_id("u1"),
        "externalUserId": "a",
        "version": 3,
        "changed": ["attrs.ltv", "givenName"],
    }


def test_installation_attributes_are_an_installation_event() -> None:
    [event] = convert(EventKind.UPDATED, {"installation": "phone", "customAttributes": ["os"]})
    assert event["type"] == "installation.saved" and event["changed"] == ["attrs.os"]


def test_merge_names_the_source_and_a_registration_adds_the_installation() -> None:
    [merged] = convert(EventKind.MERGED, {"sourceUserId": "u0", "strategy": "PREFER_TARGET"})
    assert merged["type"] == "user.merged" and merged["sourceUserId"] == global_user_id("u0")
    created = convert(EventKind.CREATED, {"installationId": "i1"})
    assert [event["type"] for event in created] == ["user.created", "installation.saved"]


def test_a_deletion_says_why_to_every_receiver() -> None:
    # A deletion is no history event (the user's history goes with it), only a change event.
    def deleted(details: dict[str, object]) -> dict[str, object]:
        [event] = change_events(
            app_id="app_1",
            user_id="u1",
            kind="DELETED",
            details=details,
            occurred_at=AT,
            version=3,
            external_user_id=None,
        )
        return event

    retained = deleted({"reason": "retention"})
    assert (retained["type"], retained["deletionReason"]) == ("user.deleted", "retention")
    requested = deleted({})  # without a reason: a deleteUser
    assert requested["deletionReason"] == "request"
    stored = {**retained, "id": "evt_1", "seq": 1, "_id": "app_1:1"}
    assert public_document(stored)["deletionReason"] == "retention"  # the webhook body
    assert "deletionReason" not in public_document({**convert(EventKind.UPDATED, {})[0], "id": "evt_2"})


def test_channel_events_never_carry_secrets() -> None:
    [event] = convert(EventKind.CHANNEL_ADDED, {"type": "SLACK", "channelId": "c1", "target": "incomingWebhook"})
    assert event["type"] == "channel.added" and event["changed"] == ["channels"]
