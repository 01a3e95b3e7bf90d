"""A tap on an EventBridge bus: a rule matching every event, into a queue of its own, read back
as envelopes (`MotoHarness.published`; the local cloud has its event log instead)."""

from __future__ import annotations

import json
from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_dev.testing.records import envelope_of

#: Every EventBridge event has `"version": "0"`: the tap's rule matches them all.
EVERY_EVENT = {"version": ["0"]}


class BusTap:
    """Copies every event put on `bus_name` into the queue `<bus_name>-harness-tap`."""

    def __init__(self, bus_name: str, sqs: Any, events: Any) -> None:
        self.sqs = sqs
        self.name = f"{bus_name}-harness-tap"
        self.url = str(sqs.create_queue(QueueName=self.name)["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name=self.name, EventBusName=bus_name, EventPattern=json.dumps(EVERY_EVENT))
        events.put_targets(
            Rule=self.name, EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": arn}]
        )
        self._envelopes: list[EventEnvelope] = []

    def envelopes(self) -> list[EventEnvelope]:
        """Every envelope put on the bus so far (drains the tap's queue)."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                return list(self._envelopes)
            self._envelopes += filter(None, (envelope_of(m["Body"]) for m in messages))
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
