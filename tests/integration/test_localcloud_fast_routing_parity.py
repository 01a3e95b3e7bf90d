"""The fast mode routes as moto's EventBridge does: the manifests of `test_routing_moto.py`
(replies, observers, wildcards, own events, 200 types split over rules), provisioned on moto as
the faithful local cloud does, and the same platform in the fast store; every envelope below,
put once on each, reaches the same agents' queues the same number of times."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from soorma_common import EventTopic
from soorma_common.envelope import EventEnvelope
from soorma_dev.localcloud.fast.store import FastStore, create_store
from soorma_dev.provision import Platform, provision
from tests.integration.test_routing_moto import BULK_TYPES, MANIFESTS

RESULTS, FACTS = EventTopic.ACTION_RESULTS, EventTopic.BUSINESS_FACTS


def envelopes() -> list[EventEnvelope]:
    return [
        EventEnvelope(
            source="soorma.calculator", type="calc.done", topic=RESULTS, reply_to="requester"
        ),
        EventEnvelope(
            source="soorma.requester",
            type="calc.add",
            topic=EventTopic.ACTION_REQUESTS,
            reply_to="requester",
            response_event="calc.done",
        ),
        EventEnvelope(
            source="soorma.calculator", type="stock.reserved", topic=RESULTS, reply_to="requester"
        ),
        EventEnvelope(source="soorma.calculator", type="calc.done", topic=RESULTS),
        EventEnvelope(source="soorma.looper", type="loop.tick", topic=FACTS),
        EventEnvelope(source="soorma.other", type="loop.tick", topic=FACTS),
        EventEnvelope(source="soorma.x", type=BULK_TYPES[0], topic=EventTopic.NOTIFICATION_EVENTS),
        EventEnvelope(source="soorma.x", type=BULK_TYPES[-1], topic=EventTopic.NOTIFICATION_EVENTS),
        EventEnvelope(
            source="soorma.x", type="note.other.sent", topic=EventTopic.NOTIFICATION_EVENTS
        ),
    ]


def entry(platform: Platform, envelope: EventEnvelope) -> dict[str, str]:
    return {
        "EventBusName": platform.bus_name,
        "Source": envelope.source,
        "DetailType": envelope.type,
        "Detail": envelope.to_json(),
    }


def drained(sqs, platform: Platform) -> Counter[tuple[str, str]]:
    """(agent, envelope id) -> how many messages its queues received."""
    seen: Counter[tuple[str, str]] = Counter()
    for name, queues in platform.agents.items():
        for url, _arn, _dlq in queues.queues.values():
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                for message in messages:
                    seen[(name, json.loads(message["Body"])["detail"]["id"])] += 1
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
    return seen


@pytest.mark.parametrize("envelope", envelopes(), ids=lambda e: f"{e.type}-{e.reply_to}")
def test_the_fast_router_delivers_as_moto_eventbridge(
    envelope: EventEnvelope, tmp_path: Path
) -> None:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        platform = provision(MANIFESTS, stage="test", session=session, register=False)
        assert (
            session.client("events").put_events(Entries=[entry(platform, envelope)])[
                "FailedEntryCount"
            ]
            == 0
        )
        on_moto = drained(session.client("sqs"), platform)
    store: FastStore = create_store(
        tmp_path / "fast.sqlite3",
        platform,
        MANIFESTS,
        visibility_timeout_seconds=30,
        event_log_agent=None,
    )
    assert (
        store.eventbridge.put_events(Entries=[entry(platform, envelope)])["FailedEntryCount"] == 0
    )
    assert drained(store.sqs, platform) == on_moto
