"""SQS queues in memory: messages with receive counts, one queue (and its DLQ) per agent and
topic, named as the CDK and the local cloud name them."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from soorma_common import naming
from soorma_common.topics import EventTopic


@dataclass
class Message:
    """One SQS message: its body (an EventBridge event), receive count and timestamps."""

    message_id: str
    body: str
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    sent_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    receive_count: int = 0
    first_receive_ms: int | None = None

    def receive(self, now_ms: int) -> dict[str, Any]:
        """Count one receive; return the message as SQS `ReceiveMessage` returns it (with
        `AttributeNames=All`)."""
        self.receive_count += 1
        self.first_receive_ms = self.first_receive_ms or now_ms
        return {
            "MessageId": self.message_id,
            "ReceiptHandle": f"{self.message_id}#{self.receive_count}",
            "MD5OfBody": hashlib.md5(self.body.encode()).hexdigest(),
            "Body": self.body,
            "Attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": str(self.sent_ms),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(self.first_receive_ms),
            },
            "MessageAttributes": dict(self.attributes),
        }


@dataclass
class Queue:
    """One agent's queue for one topic (its DLQ is `dlq_url`)."""

    agent: str
    topic: EventTopic
    name: str
    url: str
    arn: str
    dlq_url: str
    messages: deque[Message] = field(default_factory=deque)

    @classmethod
    def named(
        cls, stage: str, agent: str, topic: EventTopic, *, account: str, region: str
    ) -> Queue:
        """The queue of `agent` for `topic`, with the URL and ARN AWS would give it."""
        name = naming.queue_name(stage, agent, topic)
        base = f"https://sqs.{region}.amazonaws.com/{account}/"
        return cls(
            agent,
            topic,
            name,
            base + name,
            f"arn:aws:sqs:{region}:{account}:{name}",
            base + naming.dead_letter_queue_name(name),
        )
