"""`BusClient` inside a handler: carried ids, trust rules, deterministic ids, declared events."""

from __future__ import annotations

import asyncio
import json

import pytest

from soorma.bus import MAX_OUTBOX_BYTES, BusClient, derived_event_id
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import (
    EventTooLargeError,
    InvalidEnvelopeError,
    PermanentError,
    TrustViolationError,
    UndeclaredEventError,
)

HANDLED = EventEnvelope(
    id="evt-1",
    source="soorma.upstream",
    type="job.requested",
    topic="action-requests",
    correlation_id="corr-1",
    tenant_id="acme",
    user_id="u-1",
    session_id="s-1",
    plan_id="p-1",
    reply_to="upstream",
    response_event="job.done",
)


def bus(**kwargs: object) -> BusClient:
    return BusClient("worker", "soorma.worker", handled=HANDLED, **kwargs)  # type: ignore[arg-type]


def test_carried_and_inherited_attributes() -> None:
    client = bus()
    client.publish(EventTopic.BUSINESS_FACTS, "job.noted", {"n": 1}, session_id="s-2")
    [event] = client.outbox
    assert event.source == "soorma.worker"
    assert (event.correlation_id, event.tenant_id, event.user_id) == ("corr-1", "acme", "u-1")
    assert event.causation_id == "evt-1"
    assert (event.session_id, event.plan_id) == ("s-2", "p-1")  # session overridable, plan kept


@pytest.mark.parametrize("name", ["tenant_id", "user_id", "correlation_id"])
def test_pinned_attributes_cannot_be_overridden(name: str) -> None:
    client = bus()
    with pytest.raises(TrustViolationError, match=f"{name}.*'other'") as raised:
        client.publish(EventTopic.BUSINESS_FACTS, "job.noted", {}, **{name: "other"})
    assert isinstance(raised.value, PermanentError)
    assert client.outbox == []


@pytest.mark.parametrize(
    ("wire_name", "name"),
    [("tenantid", "tenant_id"), ("userid", "user_id"), ("correlationid", "correlation_id")],
)
def test_pinned_attributes_cannot_be_overridden_by_their_wire_names(
    wire_name: str, name: str
) -> None:
    client = bus()
    with pytest.raises(TrustViolationError, match=f"{name}.*'other'"):
        client.publish(EventTopic.BUSINESS_FACTS, "job.noted", {}, **{wire_name: "other"})
    assert client.outbox == []


@pytest.mark.parametrize("reserved", ["source", "type", "id", "time", "specversion"])
def test_attributes_the_bus_sets_are_refused_as_a_permanent_error(reserved: str) -> None:
    client = bus()
    with pytest.raises(InvalidEnvelopeError, match=f"sets .*{reserved}"):
        client.publish(EventTopic.BUSINESS_FACTS, "job.noted", {}, **{reserved: "x"})
    assert client.outbox == []


def test_an_event_over_the_size_limit_is_refused_when_published() -> None:
    client = bus(max_event_bytes=2048)
    client.announce("blob.stored", {"blob": "x" * 1000})
    with pytest.raises(EventTooLargeError, match=r"over the 2048-byte limit"):
        client.announce("blob.stored", {"blob": "x" * 3000})
    assert len(client.outbox) == 1


def test_the_outbox_is_refused_when_it_outgrows_one_idempotency_record() -> None:
    client = bus()
    chunk = {"blob": "x" * (80 * 1024)}  # stored as base64: 4/3 of it
    for _ in range(3):
        client.announce("blob.stored", chunk)
    with pytest.raises(EventTooLargeError, match=f"{MAX_OUTBOX_BYTES}-byte budget"):
        client.announce("blob.stored", chunk)
    assert len(client.outbox) == 3


def test_passing_the_same_pinned_value_is_allowed() -> None:
    client = bus()
    client.respond("job.done", {}, correlation_id="corr-1")
    assert client.outbox[0].reply_to == "upstream"


def test_ids_are_derived_from_agent_parent_and_position() -> None:
    first, second = bus(), bus()
    ids_one = [first.announce("a.b", {}), first.announce("a.b", {})]
    ids_two = [second.announce("a.b", {}), second.announce("a.b", {})]
    expected = [derived_event_id("worker", "soorma.upstream", "evt-1", n) for n in (0, 1)]
    assert ids_one == ids_two == expected
    assert ids_one[0] != ids_one[1]
    assert first.next_event_id(0) == ids_one[0]
    replayed = BusClient("worker", "soorma.worker", handled=HANDLED, replay="r1")
    assert replayed.announce("a.b", {}) != ids_one[0]
    assert derived_event_id("other", "soorma.upstream", "evt-1", 0) != ids_one[0]


def test_the_same_id_from_another_source_gets_other_derived_ids() -> None:
    """CloudEvents makes source and id together unique: two producers' `evt-1` are two
    events, and what a handler publishes for each must not share ids."""
    other_source = HANDLED.model_copy(update={"source": "soorma.elsewhere"})
    elsewhere = BusClient("worker", "soorma.worker", handled=other_source)
    here = bus()
    assert elsewhere.announce("a.b", {}) != here.announce("a.b", {})
    assert elsewhere.next_event_id(0) == derived_event_id("worker", "soorma.elsewhere", "evt-1", 0)


def test_event_ids_can_be_awaited() -> None:
    client = bus()

    async def publish() -> str:
        return await client.announce("a.b", {})

    assert asyncio.run(publish()) == client.outbox[0].id


def test_only_declared_events_may_be_published() -> None:
    client = bus(produced=frozenset({"job.done"}))
    with pytest.raises(UndeclaredEventError, match=r"'job\.other'.*job\.done"):
        client.announce("job.other", {})


def test_the_payload_validator_is_consulted() -> None:
    seen: list[tuple[str, object]] = []
    client = bus(validate_payload=lambda event_type, data: seen.append((event_type, data)))
    client.announce("a.b", {"k": 1})
    assert seen == [("a.b", {"k": 1})]


def test_outside_a_handler_a_new_workflow_starts() -> None:
    client = BusClient("script", "soorma.script")
    first = client.request("a.requested", {}, response_event="a.done")
    [event] = client.outbox
    assert event.id == first and event.causation_id is None
    assert event.reply_to == "script" and event.response_topic == EventTopic.ACTION_RESULTS


def test_a_payload_changed_after_publishing_does_not_change_the_event() -> None:
    """A flat payload is written as it is (no copy): what is sent, and what `outbox` shows, is
    the payload as it was when published, whatever the handler does to its dict afterwards."""
    client = bus()
    payload = {"item": 1, "label": "first"}
    client.publish(EventTopic.BUSINESS_FACTS, "job.noted", payload)
    payload["item"], payload["label"] = 2, "changed"
    client.publish(EventTopic.BUSINESS_FACTS, "job.noted", payload)
    sent = [json.loads(event.detail)["data"] for event in client.outgoing_events()]
    assert sent == [{"item": 1, "label": "first"}, {"item": 2, "label": "changed"}]
    assert [event.data for event in client.outbox] == sent
    assert [wire["data"] for wire in client.wire_events()] == sent
