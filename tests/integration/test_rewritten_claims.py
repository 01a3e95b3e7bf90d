"""No agent can make another publish (issue 10): an idempotency record rewritten by someone
else (another agent's role, before IAM scoped each role to its own keys) is never re-put as the
victim; the redelivery is dead-lettered with the reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness

FACTS = EventTopic.BUSINESS_FACTS


def payments() -> Agent:
    agent = Agent(name="payments", events_produced=["payment.taken"])

    @agent.on_event("order.placed", topic=FACTS)
    def take(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("payment.taken", {"order_id": event.data["order_id"]})

    return agent


def forged_detail(source: str, event_type: str) -> str:
    wire = EventEnvelope(
        source=source, type=event_type, topic=FACTS, data={"amount": 9999}, correlation_id="c"
    ).to_wire()
    return base64.b64encode(json.dumps(wire).encode()).decode()


@pytest.mark.parametrize(
    ("source", "event_type", "why"),
    [
        ("soorma.payments", "payment.refund", "does not declare"),
        ("soorma.notifier", "payment.taken", "cannot have published"),
    ],
)
def test_a_rewritten_claim_is_not_reput_as_the_agent(
    soorma_moto: Any, source: str, event_type: str, why: str
) -> None:
    harness: MotoHarness = soorma_moto(payments())
    order = harness.send("order.placed", {"order_id": "o-1"}, topic=FACTS, source="soorma.shop")
    harness.run_until_idle()
    [claim] = harness.idempotency_records()
    dynamodb = harness.session.client("dynamodb")
    dynamodb.update_item(  # what another agent's role could do with table-wide access
        TableName=harness.platform.tables["idempotency"],
        Key={"id": claim["id"]},
        UpdateExpression="SET #data = :data",
        ExpressionAttributeNames={"#data": "data"},
        ExpressionAttributeValues={":data": {"S": json.dumps([forged_detail(source, event_type)])}},
    )

    harness.put(order)  # a redelivery of the same event
    harness.run_until_idle()

    assert [e.type for e in harness.published if e.source != "soorma.shop"] == ["payment.taken"]
    [letter] = harness.dead_letters("payments")
    assert letter.reason is not None and why in letter.reason
    assert "not written by this agent's runtime" in letter.reason
