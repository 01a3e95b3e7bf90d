"""Routing on moto's EventBridge -> SQS, provisioned as the local cloud does (`provision`, which
creates exactly the rules of `rules_for`): replies reach only their requester (and observers that
say so), a wildcard does not feed its agent its own events, and 200 subscriptions split into
rules that each deliver once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soorma_common import EventTopic
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.routing import rules_for
from soorma_dev.provision import Platform, provision

RESULTS = EventTopic.ACTION_RESULTS
FACTS = EventTopic.BUSINESS_FACTS
NOTES = EventTopic.NOTIFICATION_EVENTS
BULK_TYPES = [f"note.kind{i:03d}.sent" for i in range(200)]


def agent(name: str, *subs: Subscription, kind: AgentKind = AgentKind.AGENT) -> AgentManifest:
    return AgentManifest(name=name, kind=kind, subscriptions=list(subs))


MANIFESTS = [
    agent(
        "requester",
        Subscription(topic=RESULTS, event_type="calc.done", replies=True),
        kind=AgentKind.WORKER,
    ),
    agent("bystander", Subscription(topic=RESULTS, event_type="calc.done")),
    agent("calculator", Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="calc.add")),
    agent("watcher", Subscription(topic=RESULTS, event_type="*")),
    agent(
        "auditor",
        Subscription(topic=RESULTS, event_type="*", include_replies=True),
        Subscription(topic=FACTS, event_type="*", include_replies=True),
    ),
    agent("looper", Subscription(topic=FACTS, event_type="*")),
    agent("bulk", *(Subscription(topic=NOTES, event_type=t) for t in BULK_TYPES)),
]


@pytest.fixture(scope="module")
def cloud() -> Iterator[tuple[Any, Any, Platform]]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        platform = provision(MANIFESTS, stage="test", session=session, register=False)
        yield session.client("events"), session.client("sqs"), platform


def put(cloud: tuple[Any, Any, Platform], envelope: EventEnvelope) -> None:
    events, _, platform = cloud
    result = events.put_events(
        Entries=[
            {
                "EventBusName": platform.bus_name,
                "Source": envelope.source,
                "DetailType": envelope.type,
                "Detail": envelope.to_json(),
            }
        ]
    )
    assert result["FailedEntryCount"] == 0


def received(cloud: tuple[Any, Any, Platform]) -> dict[str, list[str]]:
    """agent -> the envelope ids its queues received (drained)."""
    _, sqs, platform = cloud
    seen: dict[str, list[str]] = {}
    for name, queues in platform.agents.items():
        for url, _arn, _dlq in queues.queues.values():
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                for message in messages:
                    seen.setdefault(name, []).append(json.loads(message["Body"])["detail"]["id"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_a_reply_reaches_its_requester_and_the_declared_observer_only(cloud: Any) -> None:
    reply = EventEnvelope(
        source="soorma.calculator", type="calc.done", topic=RESULTS, reply_to="requester"
    )
    put(cloud, reply)
    assert received(cloud) == {"requester": [reply.id], "auditor": [reply.id]}


def test_a_request_which_names_its_requester_still_reaches_the_worker(cloud: Any) -> None:
    request = EventEnvelope(
        source="soorma.requester",
        type="calc.add",
        topic=EventTopic.ACTION_REQUESTS,
        reply_to="requester",
        response_event="calc.done",
    )
    put(cloud, request)
    assert received(cloud) == {"calculator": [request.id]}


def test_a_reply_of_a_type_the_requester_does_not_handle_is_not_delivered(cloud: Any) -> None:
    reply = EventEnvelope(
        source="soorma.calculator", type="stock.reserved", topic=RESULTS, reply_to="requester"
    )
    put(cloud, reply)
    assert received(cloud) == {"auditor": [reply.id]}


def test_an_event_that_is_not_a_reply_reaches_the_plain_subscribers(cloud: Any) -> None:
    event = EventEnvelope(source="soorma.calculator", type="calc.done", topic=RESULTS)
    put(cloud, event)
    assert received(cloud) == {
        "bystander": [event.id],
        "watcher": [event.id],
        "auditor": [event.id],
    }


def test_a_wildcard_subscriber_does_not_receive_its_own_events(cloud: Any) -> None:
    own = EventEnvelope(source="soorma.looper", type="loop.again", topic=FACTS)
    other = EventEnvelope(source="com.example.shop", type="loop.again", topic=FACTS)
    put(cloud, own)
    put(cloud, other)
    assert received(cloud) == {"auditor": [own.id, other.id], "looper": [other.id]}


def test_two_hundred_subscriptions_split_over_rules_deliver_each_type_once(cloud: Any) -> None:
    bulk_rules = rules_for(MANIFESTS[-1])
    assert len(bulk_rules) > 1
    sent = [EventEnvelope(source="soorma.other", type=t, topic=NOTES) for t in BULK_TYPES[::40]]
    for envelope in sent:
        put(cloud, envelope)
    put(cloud, EventEnvelope(source="soorma.other", type="note.unknown", topic=NOTES))
    assert sorted(received(cloud)["bulk"]) == sorted(e.id for e in sent)
