"""`MotoHarness`: agents in one process on moto, delivered exactly as Lambda's SQS mapping would.

For integration tests of the runtime and of users' agents: real PutEvents into a moto bus, real
rules into real queues, and batches received from those queues passed to `agent.lambda_handler`.
Failed records (`batchItemFailures`) stay on the queue; the rest are deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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

    def details(self) -> list[dict[str, Any]]:
        """The EventBridge `detail` (the envelope on the wire) of every record, as delivered."""
        return [json.loads(r["body"])["detail"] for r in self.event["Records"]]


class LambdaContextStub:
    """Enough of Lambda's context object for Powertools (name, request id, remaining time)."""

    def __init__(self, function_name: str, timeout_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = 256
        self.aws_request_id = "local"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


class MotoHarness:
    """Provision agents on the active moto backend and pump their queues in this process.

    The harness points the SDK at what it provisioned by setting `SOORMA_*` variables in
    `os.environ`; `close()` (or leaving a `with MotoHarness(...)` block) puts back the values they
    had before, and resets the SDK's cached settings and clients and the agents' runtimes. The
    agents' manifests are written to the registry table, as the stack's registry sync does at
    deploy; `register=False` leaves it empty.
    """

    def __init__(
        self,
        agents: Iterable[Any],
        *,
        stage: str = "test",
        session: Any = None,
        register: bool = True,
    ) -> None:
        import boto3

        from soorma import clients
        from soorma.config import settings

        self.agents = {a.name: a for a in agents}
        self.session = session or boto3.session.Session()
        self.platform: Platform = provision(
            [a.manifest() for a in self.agents.values()],
            stage=stage,
            session=self.session,
            register=register,
        )
        environment = self.platform.environment("harness")
        self._saved_environment = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        settings.cache_clear()
        clients.reset()
        for agent in self.agents.values():
            agent.use_runtime(None)
        self.sqs = self.session.client("sqs")
        self.events = self.session.client("events")
        self.deliveries: list[Delivery] = []

    def close(self) -> None:
        """Restore the environment variables the harness set, reset the SDK's cached settings
        and clients and the agents' runtimes. Calling it again does nothing."""
        from soorma import clients
        from soorma.config import settings

        saved, self._saved_environment = self._saved_environment, {}
        if not saved:
            return
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.cache_clear()
        clients.reset()
        for agent in self.agents.values():
            agent.use_runtime(None)

    def __enter__(self) -> MotoHarness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    def receive(
        self, agent: str, topic: EventTopic | str, max_messages: int = 10
    ) -> list[dict[str, Any]]:
        """Receive up to `max_messages` messages from an agent's queue (not deleted)."""
        url, _, _ = self.queue(agent, topic)
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=RECEIVE_ATTRIBUTES,
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def deliver(
        self, agent: str, topic: EventTopic | str, messages: list[dict[str, Any]] | None = None
    ) -> Delivery:
        """Pass one batch from the queue to the agent's handler; delete the records that succeeded.

        Failed records are made visible again at once, as if their visibility timeout had passed.
        """
        url, arn, _ = self.queue(agent, topic)
        messages = self.receive(agent, topic) if messages is None else messages
        event = lambda_event(messages, arn, queue_region(arn))
        failed: list[str] = []
        if messages:
            handler_agent = self.agents[agent]
            stub = LambdaContextStub(f"soorma-test-{agent}")
            response = handler_agent.lambda_handler(event, stub)
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
                QueueUrl=dlq,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=0,
            )
            messages = response.get("Messages", [])
            if not messages or all(m["MessageId"] in found for m in messages):
                break
            found.update({m["MessageId"]: m for m in messages})
        return list(found.values())

    def replace_agent(self, agent: Any) -> None:
        """Serve an agent's queues with another instance of it (e.g. a freshly imported module,
        as a new Lambda execution environment would)."""
        if agent.name not in self.agents:
            raise KeyError(f"{agent.name!r} is not provisioned by this harness")
        agent.use_runtime(None)
        self.agents[agent.name] = agent

    def send_raw(self, agent: str, topic: EventTopic | str, body: str) -> None:
        """Put a raw message body straight onto an agent's queue (e.g. a poison record)."""
        url, _, _ = self.queue(agent, topic)
        self.sqs.send_message(QueueUrl=url, MessageBody=body)

    def delivered_details(self, agent: str) -> list[dict[str, Any]]:
        """The envelope (`detail`, as received from the queue) of every record delivered to
        `agent` so far, in delivery order."""
        return [
            d for delivery in self.deliveries if delivery.agent == agent for d in delivery.details()
        ]

    def queue_depth(self, agent: str, topic: EventTopic | str) -> int:
        """Visible plus in-flight messages on an agent's queue."""
        url, _, _ = self.queue(agent, topic)
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def idempotency_records(self) -> list[dict[str, Any]]:
        """Every claim of the idempotency table (raw DynamoDB attribute values; the pending
        request items kept in the same table, `<agent>#request#<id>`, left out)."""
        dynamodb = self.session.client("dynamodb")
        table = self.platform.tables["idempotency"]
        items = dynamodb.scan(TableName=table).get("Items", [])
        return [item for item in items if "#request#" not in item["id"]["S"]]


@dataclass
class PutEventsCalls:
    """What a `record_put_events` hook saw: the `Entries` of every PutEvents call, in order."""

    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of PutEvents calls."""
        return len(self.calls)

    def details(self) -> list[dict[str, Any]]:
        """The parsed `Detail` of every entry put, in order."""
        return [json.loads(e["Detail"]) for call in self.calls for e in call]


def _events_client() -> Any:
    from soorma import clients

    return clients.client("events")


@contextmanager
def record_put_events(client: Any = None) -> Iterator[PutEventsCalls]:
    """Record every PutEvents call made through a real boto3 `events` client (default: the SDK's
    process-wide client) with a botocore event hook; nothing of Soorma is mocked."""
    client = client or _events_client()
    seen = PutEventsCalls()

    def hook(params: dict[str, Any], **_: Any) -> None:
        seen.calls.append([dict(e) for e in params.get("Entries", [])])

    client.meta.events.register("provide-client-params.events.PutEvents", hook)
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.events.PutEvents", hook)


@contextmanager
def fail_put_events_entries(
    should_fail: Callable[[int, int, dict[str, Any]], bool],
    *,
    error_code: str = "ThrottlingException",
    client: Any = None,
) -> Iterator[PutEventsCalls]:
    """Make PutEvents report some entries as failed, as AWS does on partial failure.

    `should_fail(call_index, entry_index, entry)` picks the entries to fail. They are removed from
    the request before it is sent (so they really are not put) and re-inserted in the parsed
    response as failed entries with `error_code`, in their original positions. Yields the calls
    as they were made by the caller (before removal).
    """
    client = client or _events_client()
    seen = PutEventsCalls()
    failed_positions: list[list[int]] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        entries = list(params.get("Entries", []))
        call = len(seen.calls)
        seen.calls.append([dict(e) for e in entries])
        failing = [i for i, e in enumerate(entries) if should_fail(call, i, e)]
        failed_positions.append(failing)
        if len(failing) < len(entries):
            params["Entries"] = [e for i, e in enumerate(entries) if i not in failing]

    def short_circuit(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        # Every entry fails: answer without sending (PutEvents rejects an empty request).
        failing, entries = failed_positions[-1], seen.calls[-1]
        if not entries or len(failing) < len(entries):
            return None
        from botocore.awsrequest import AWSResponse

        http = AWSResponse("https://events.local/", 200, {}, None)
        return http, {"FailedEntryCount": 0, "Entries": []}

    def after(parsed: dict[str, Any], **_: Any) -> None:
        failing = failed_positions[-1]
        if not failing:
            return
        results = iter(parsed.get("Entries", []))
        total = len(seen.calls[-1])
        merged = []
        for i in range(total):
            if i in failing:
                merged.append({"ErrorCode": error_code, "ErrorMessage": "injected by the test"})
            else:
                merged.append(next(results))
        parsed["Entries"] = merged
        parsed["FailedEntryCount"] = int(parsed.get("FailedEntryCount", 0)) + len(failing)

    client.meta.events.register("provide-client-params.events.PutEvents", before)
    client.meta.events.register("before-call.events.PutEvents", short_circuit)
    client.meta.events.register("after-call.events.PutEvents", after)
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.events.PutEvents", before)
        client.meta.events.unregister("before-call.events.PutEvents", short_circuit)
        client.meta.events.unregister("after-call.events.PutEvents", after)
