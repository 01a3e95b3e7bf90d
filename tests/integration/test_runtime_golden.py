"""The runtime fed AWS's own documented payload shapes (tests/golden), not only our own."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma.runtime.dead_letters import ERROR_TYPE_ATTRIBUTE
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import LambdaContextStub, MotoHarness, record_put_events

GOLDEN = Path(__file__).parents[1] / "golden"
FACTS = EventTopic.BUSINESS_FACTS


def golden(name: str) -> dict[str, Any]:
    document = json.loads((GOLDEN / name).read_text())
    assert document["source"].startswith("https://docs.aws.amazon.com/")
    payload: dict[str, Any] = document["payload"]
    return payload


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def eventbridge_body(envelope: EventEnvelope) -> str:
    """AWS's documented EventBridge event with a Soorma event in it (account, resources kept)."""
    event = golden("aws_eventbridge_event.json")
    event.update(
        {"source": envelope.source, "detail-type": envelope.type, "detail": envelope.to_wire()}
    )
    return json.dumps(event)


def test_the_documented_shapes_are_handled_and_a_foreign_event_is_dead_lettered() -> None:
    agent = Agent("golden")
    handled: list[EventEnvelope] = []

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        handled.append(event)
        context.bus.announce("order.accepted", {"order": event.data["order"]})

    harness = MotoHarness([agent])
    harness.sqs.create_queue(QueueName="my-queue-dlq")  # the DLQ of AWS's example queue
    order = EventEnvelope(
        source="soorma.shop",
        type="order.placed",
        topic=FACTS,
        data={"order": "o-1"},
        tenant_id="acme",
    )
    event = golden("aws_lambda_sqs_event.json")
    soorma_record, foreign_record = event["Records"]
    soorma_record["body"] = eventbridge_body(order)
    soorma_record["attributes"]["ApproximateReceiveCount"] = "2"
    foreign_record["body"] = json.dumps(golden("aws_eventbridge_event.json"))
    untouched = copy.deepcopy(event)

    with record_put_events() as put_events:
        response = agent.lambda_handler(event, LambdaContextStub("soorma-test-golden"))

    assert event == untouched  # the runtime does not mutate its input
    assert response == {"batchItemFailures": []}
    assert [e.id for e in handled] == [order.id]
    assert handled[0].tenant_id == "acme"
    [accepted] = put_events.details()
    assert accepted["causationid"] == order.id
    assert accepted["correlationid"] == order.correlation_id
    assert accepted["tenantid"] == "acme"
    dlq = harness.sqs.get_queue_url(QueueName="my-queue-dlq")["QueueUrl"]
    [dead] = harness.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert dead["MessageAttributes"][ERROR_TYPE_ATTRIBUTE]["StringValue"] == "InvalidEnvelopeError"
    assert json.loads(dead["Body"])["source"] == "aws.ec2"


def test_a_body_without_account_as_moto_writes_it_is_handled_too() -> None:
    agent = Agent("no-account")
    handled: list[str] = []
    agent.on_event("order.placed", topic=FACTS)(lambda event, context: handled.append(event.id))
    MotoHarness([agent])
    order = EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS)
    body = json.loads(eventbridge_body(order))
    del body["account"]
    event = golden("aws_lambda_sqs_event.json")
    event["Records"] = event["Records"][:1]
    event["Records"][0]["body"] = json.dumps(body)

    response = agent.lambda_handler(event, LambdaContextStub("soorma-test-no-account"))

    assert response == {"batchItemFailures": []}
    assert handled == [order.id]
