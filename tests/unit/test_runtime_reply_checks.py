"""Replies reach only their requester (runtime side): a reply is accepted only if it answers a
request the agent sent, with the type asked for, from another agent; a request whose reply could
not be received is refused at publish. On the in-memory bus, whose runtimes share its ledger
of sent requests as they share the idempotency table on AWS."""

from __future__ import annotations

from typing import Any

import pytest

from soorma import Worker
from soorma.bus import BusClient
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import UnreachableReplyError
from soorma_dev.inmemory import InMemoryBus

FACTS = EventTopic.BUSINESS_FACTS
RESULTS = EventTopic.ACTION_RESULTS


def agents() -> tuple[Worker, Worker, list[Any]]:
    requester = Worker(name="requester")
    results: list[Any] = []

    @requester.on_event("order.placed", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("stock.check", event.data, response_event="stock.checked")

    @requester.on_result("*")
    def take(event: EventEnvelope, context: Any) -> None:
        results.append(event.data)

    stock = Worker(name="stock")

    @stock.on_task("stock.check")
    def check(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"ok": True}

    return requester, stock, results


def test_a_reply_to_a_request_the_agent_sent_is_delivered() -> None:
    requester, stock, results = agents()
    with InMemoryBus([requester, stock]) as bus:
        bus.send("order.placed", {"sku": "a"}, topic=FACTS)
        bus.run_until_idle()
        assert bus.dead_letters() == []
    assert results == [{"ok": True}]


@pytest.mark.parametrize(
    ("source", "event_type", "causation", "why"),
    [
        ("soorma.forger", "stock.checked", "no-such-request", "no request"),
        ("soorma.forger", "refund.granted", "REQUEST", "asked for 'stock.checked'"),
        ("soorma.requester", "stock.checked", "REQUEST", "requester itself"),
    ],
)
def test_a_forged_reply_is_dead_lettered_as_forged(
    source: str, event_type: str, causation: str, why: str
) -> None:
    requester, stock, results = agents()
    with InMemoryBus([requester, stock]) as bus:
        bus.send("order.placed", {"sku": "a"}, topic=FACTS)
        bus.run_until_idle()
        [request] = [e for e in bus.published if e.type == "stock.check"]
        bus.send(
            event_type,
            {"ok": "x"},
            topic=RESULTS,
            source=source,
            reply_to="requester",
            correlation_id=request.correlation_id,
            causation_id=request.id if causation == "REQUEST" else causation,
        )
        bus.run_until_idle()
        [letter] = bus.dead_letters("requester")

    assert results == [{"ok": True}]  # only the real reply
    assert letter.reason is not None and why in letter.reason
    assert letter.envelope is not None and letter.envelope.data == {"ok": "x"}
    forged = [h.outcome for h in bus.handlings() if h.event_id == letter.envelope.id]
    assert forged == ["dead-lettered"]  # at once: a permanent error


def test_a_request_whose_reply_topic_has_no_result_handler_is_refused_at_publish() -> None:
    client = BusClient(
        "requester",
        "soorma.requester",
        handled=EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS),
        reply_topics=frozenset({RESULTS}),
    )
    with pytest.raises(UnreachableReplyError, match=r"'task-events'.*on_result"):
        client.request("stock.check", {}, "stock.checked", response_topic="task-events")
    client.request("stock.check", {}, "stock.checked", response_topic=RESULTS)
    client.request("stock.check", {}, "stock.checked")
    assert [e.response_topic for e in client.outbox] == [RESULTS, RESULTS]


def test_a_handler_requesting_a_reply_on_a_topic_it_cannot_hear_is_dead_lettered() -> None:
    requester = Worker(name="requester")

    @requester.on_event("order.placed", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("stock.check", {}, "stock.checked", response_topic="task-events")

    @requester.on_result("*")
    def take(event: EventEnvelope, context: Any) -> None:
        pass

    with InMemoryBus([requester]) as bus:
        bus.send("order.placed", {}, topic=FACTS)
        bus.run_until_idle()
        [letter] = bus.dead_letters("requester")
    assert letter.reason is not None and "task-events" in letter.reason
    assert [e.type for e in bus.published] == ["order.placed"]
