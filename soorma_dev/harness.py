"""`MotoHarness`: agents in one process on moto, delivered exactly as Lambda's SQS mapping would.

For integration tests of the runtime and of users' agents: real PutEvents into a moto bus, real
rules into real queues, and batches received from those queues passed to `agent.lambda_handler`.
Failed records (`batchItemFailures`) stay on the queue; the rest are deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic

from soorma_dev.provision import Platform, provision
from soorma_dev.sqs_events import RECEIVE_ATTRIBUTES, lambda_event, queue_region


@dataclass
class Delivery:
    """One batch passed to an agent: the records sent and the ids reported failed."""

    agent: str
    topic: EventTopic
    event: dict[str, Any]
    failed_ids: list[str]


class LambdaContextStub:
    """Enough of Lambda's context object for Powertools (name, request id, remaining time)."""

    def __init__(self, function_name: str, timeout_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "local"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


class MotoHarness:
    """Provision agents on the active moto backend and pump their queues in this process."""

    def __init__(self, agents: Iterable[Any], *, stage: str = "test", session: Any = None) -> None:
        import boto3

        from soorma import clients
        from soorma.config import settings

        self.agents = {a.name: a for a in agents}
        self.session = session or boto3.session.Session()
        self.platform: Platform = provision(
            [a.manifest() for a in self.agents.values()], stage=stage, session=self.session
        )
        os.environ.update(self.platform.environment("harness"))
        settings.cache_clear()
        clients.reset()
        for agent in self.agents.values():
            agent.use_runtime(None)
        self.sqs = self.session.client("sqs")
        self.events = self.session.client("events")
        self.deliveries: list[Delivery] = []

    def publisher(self, source: str = "soorma.tests") -> Any:
        """An `EventPublisher` on the harness's bus."""
        from soorma.publishing import EventPublisher

        return EventPublisher(source, bus=self.platform.bus_name)

    def put(self, envelope: EventEnvelope) -> None:
        """Put one envelope on the bus (through the SDK's publisher)."""
        self.publisher(envelope.source).publish_envelopes([envelope])

    def queue(self, agent: str, topic: EventTopic | str) -> tuple[str, str, str]:
        """(url, arn, dlq url) of an agent's queue for a topic."""
        return self.platform.agents[agent].queues[EventTopic.parse(topic)]

    def receive(self, agent: str, topic: EventTopic | str, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive up to `max_messages` messages from an agent's queue (not deleted)."""
        url, _, _ = self.queue(agent, topic)
        response = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=max_messages,
            AttributeNames=RECEIVE_ATTRIBUTES, MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def deliver(self, agent: str, topic: EventTopic | str, messages: list[dict[str, Any]] | None = None) -> Delivery:
        """Pass one batch from the queue to the agent's handler; delete the records that succeeded.

        Failed records are made visible again at once, as if their visibility timeout had passed.
        """
        url, arn, _ = self.queue(agent, topic)
        messages = self.receive(agent, topic) if messages is None else messages
        event = lambda_event(messages, arn, queue_region(arn))
        failed: list[str] = []
        if messages:
            handler_agent = self.agents[agent]
            response = handler_agent.lambda_handler(event, LambdaContextStub(f"soorma-test-{agent}"))
            failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivery = Delivery(agent, EventTopic.parse(topic), event, failed)
        self.deliveries.append(delivery)
        return delivery

    def run_until_idle(self, max_rounds: int = 100) -> int:
        """Deliver from every queue until all are empty; return the number of batches delivered."""
        batches = 0
        for _ in range(max_rounds):
            busy = False
            for name, queues in self.platform.agents.items():
                for topic in list(queues.queues):
                    messages = self.receive(name, topic)
                    if messages:
                        busy = True
                        self.deliver(name, topic, messages)
                        batches += 1
            if not busy:
                return batches
        raise RuntimeError(f"queues still busy after {max_rounds} rounds")

    def dead_letters(self, agent: str, topic: EventTopic | str) -> list[dict[str, Any]]:
        """Every message in the DLQ of an agent's queue (received, then made visible again)."""
        _, _, dlq = self.queue(agent, topic)
        found: dict[str, dict[str, Any]] = {}
        for _ in range(10):
            response = self.sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                AttributeNames=["All"], VisibilityTimeout=0,
            )
            messages = response.get("Messages", [])
            if not messages or all(m["MessageId"] in found for m in messages):
                break
            found.update({m["MessageId"]: m for m in messages})
        return list(found.values())
