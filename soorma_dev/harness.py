"""`MotoHarness`: agents in one process on moto, delivered exactly as Lambda's SQS mapping would.

For integration tests of the runtime and of users' agents: real PutEvents into a moto bus, real
rules into real queues, and batches received from those queues passed to `agent.lambda_handler`.
Failed records (`batchItemFailures`) stay on the queue; the rest are deleted. It offers the verbs
of every harness (`soorma_dev.testing.AgentHarness`): `send`, `run_until_idle`, `handlings`,
`dead_letters`, `redrive`, `trace`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.bus_tap import BusTap
from soorma_dev.envelopes import OutsideSender, put_envelopes
from soorma_dev.localcloud.dead_letters import DeadLetterQueues
from soorma_dev.provision import Platform, provision
from soorma_dev.put_events_faults import (
    PutEventsCalls,
    fail_put_events_entries,
    record_put_events,
)
from soorma_dev.sqs_events import RECEIVE_ATTRIBUTES, lambda_event, queue_region
from soorma_dev.testing.batches import (
    DeliveredRecord,
    OutcomeRecorder,
    batch_handlings,
    moved_after_max_receives,
)
from soorma_dev.testing.records import (
    DeadLetter,
    Handling,
    TraceNode,
    causation_tree,
    last_failure_reasons,
)

if TYPE_CHECKING:
    from soorma.workflows.stalls import SweepReport

__all__ = [
    "Delivery",
    "LambdaContextStub",
    "MotoHarness",
    "PutEventsCalls",
    "fail_put_events_entries",
    "record_put_events",
]


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


class MotoHarness(OutsideSender):
    """Provision agents on the active moto backend and pump their queues in this process.

    The harness points the SDK at what it provisioned by setting `SOORMA_*` variables in
    `os.environ`; `close()` (or leaving a `with MotoHarness(...)` block) puts back the values they
    had before, and resets the SDK's cached settings and clients and the agents' runtimes. The
    agents' manifests are written to the registry table, as the stack's registry sync does at
    deploy; `register=False` leaves it empty. A rule of its own copies every event put on the bus
    into a tap queue, read back by `published`, `events` and `trace`.
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
        from soorma.registry.client import reset_shared_clients
        from soorma_dev.moto_item_limit import use_dynamodb_item_limit

        use_dynamodb_item_limit()  # DynamoDB's 400 KB, not moto's 405,000 bytes
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
        reset_shared_clients()  # a new deploy: no registry copy of an earlier one is trusted
        for agent in self.agents.values():
            agent.use_runtime(None)
        self.sqs = self.session.client("sqs")
        self.events = self.session.client("events")
        self.deliveries: list[Delivery] = []
        self._outcomes = OutcomeRecorder()
        self._handlings: list[Handling] = []
        self._tap = BusTap(self.platform.bus_name, self.sqs, self.events)

    def fire_deadlines(self, now: datetime | None = None) -> int:
        """Fire the request deadlines due at `now` (default: now; a later time skips ahead), as
        EventBridge Scheduler would (moto stores schedules, never fires them)."""
        from soorma_dev.deadline_pump import fire_due_schedules

        return fire_due_schedules(self.session.client("scheduler"), self.events, now=now)

    def sweep_stalled(
        self, now: datetime | None = None, *, stalled_after_seconds: float = 900.0
    ) -> SweepReport:
        """Run the stall sweep at `now` (default: now; a later time skips ahead), as the
        stage's rate schedule does (`soorma.workflows.stalls`): open plans without progress for
        `stalled_after_seconds` get one `workflow.stalled` each, on `system-events`."""
        from soorma.memory.table import MemoryTable
        from soorma.workflows.stalls import platform_publisher, sweep

        table = MemoryTable(
            self.platform.tables["memory"],
            ttl_seconds=0,
            client=self.session.client("dynamodb"),
        )
        publish = platform_publisher(self.platform.bus_name, self.events)
        return sweep(table, publish, now=now, stalled_after_seconds=stalled_after_seconds)

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

    # ---- putting events on the bus ------------------------------------------------------------

    def put_outside(self, envelopes: Sequence[EventEnvelope]) -> None:
        """What `send` puts with (a real PutEvents, see `put`)."""
        self.put(*envelopes)

    def put(self, *envelopes: EventEnvelope) -> None:
        """Put ready-made envelopes on the bus (PutEvents, 10 per call, failed entries retried)
        with the SDK's `events` client, the one `record_put_events` watches by default."""
        from soorma import clients

        put_envelopes(
            self.platform.bus_name,
            clients.client("events"),
            envelopes,
            idempotency_table=self.platform.tables["idempotency"],
            dynamodb_client=clients.client("dynamodb"),
        )

    def send_raw(self, agent: str, topic: EventTopic | str, body: str) -> None:
        """Put a raw message body straight onto an agent's queue (e.g. a poison record)."""
        url, _, _ = self.queue(agent, topic)
        self.sqs.send_message(QueueUrl=url, MessageBody=body)

    # ---- delivering ---------------------------------------------------------------------------

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

        Failed records are made visible again at once, as if their visibility timeout had passed;
        an invocation that raises fails every record of the batch, as on Lambda.
        A record that failed its `maxReceiveCount`-th receive is recorded as dead-lettered: SQS
        moves it to the DLQ on the next receive.
        """
        url, arn, _ = self.queue(agent, topic)
        messages = self.receive(agent, topic) if messages is None else messages
        event = lambda_event(messages, arn, queue_region(arn))
        failed: list[str] = []
        crash: str | None = None
        if messages:
            self._outcomes.begin_batch()
            try:
                response = self._observed(agent).lambda_handler(
                    event, LambdaContextStub(f"soorma-test-{agent}")
                )
                failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
            except Exception as exc:  # the invocation failed: Lambda returns every record
                failed = [m["MessageId"] for m in messages]
                crash = f"{type(exc).__name__}: {exc}"
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            self._record(agent, EventTopic.parse(topic), messages, set(failed), crash)
        delivery = Delivery(agent, EventTopic.parse(topic), event, failed)
        self.deliveries.append(delivery)
        return delivery

    def _observed(self, name: str) -> Any:
        """The agent, its runtime reporting each record's outcome to this harness (a runtime set
        by the test keeps its transport and settings)."""
        from soorma.runtime import LambdaRuntime

        agent = self.agents[name]
        runtime = getattr(agent, "runtime", None)
        if isinstance(runtime, LambdaRuntime) and runtime.on_outcome != self._outcomes.observe:
            agent.use_runtime(
                LambdaRuntime(
                    agent,
                    transport=runtime.transport,
                    on_outcome=self._outcomes.observe,
                    conf=runtime.settings,
                )
            )
        return agent

    def _record(
        self,
        agent: str,
        topic: EventTopic,
        messages: list[dict[str, Any]],
        failed: set[str],
        crash: str | None,
    ) -> None:
        records = [
            DeliveredRecord(
                m["MessageId"],
                m.get("Body", ""),
                int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in messages
        ]
        outcomes = self._outcomes.by_message
        for handling in batch_handlings(agent, topic.value, records, failed, outcomes, crash):
            self._handlings.append(handling)
            if handling.outcome == "failed" and handling.receive_count >= MAX_RECEIVE_COUNT:
                self._handlings.append(moved_after_max_receives(handling))

    def run_until_idle(self, timeout: float = 60.0, *, max_rounds: int = 100) -> int:
        """Deliver from every queue until all are empty; return how many handlings that made.
        Raises `TimeoutError` when still busy after `timeout` s or `max_rounds` rounds."""
        before = len(self._handlings)
        deadline = time.monotonic() + timeout
        for _ in range(max_rounds):
            busy = False
            for name, queues in self.platform.agents.items():
                for topic in list(queues.queues):
                    messages = self.receive(name, topic)
                    if messages:
                        busy = True
                        self.deliver(name, topic, messages)
            if not busy:
                return len(self._handlings) - before
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"queues still busy after {timeout} s or {max_rounds} rounds")

    def replace_agent(self, agent: Any) -> None:
        """Serve an agent's queues with another instance of it (e.g. a freshly imported module,
        as a new Lambda execution environment would)."""
        if agent.name not in self.agents:
            raise KeyError(f"{agent.name!r} is not provisioned by this harness")
        agent.use_runtime(None)
        self.agents[agent.name] = agent

    # ---- what happened ------------------------------------------------------------------------

    def handlings(self, agent: str | None = None) -> list[Handling]:
        """Every record delivered (to one agent, or to any) and its outcome, in order."""
        return [h for h in self._handlings if agent is None or h.agent == agent]

    @property
    def published(self) -> list[EventEnvelope]:
        """Every envelope put on the bus so far (sent from the test and published by agents)."""
        return self._tap.envelopes()

    def trace(self, correlation_id: str) -> list[TraceNode]:
        """The causation tree of a workflow: its root events, each with handlings and children."""
        workflow = [e for e in self.published if e.correlation_id == correlation_id]
        return causation_tree(workflow, self._handlings)

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

    # ---- dead letters -------------------------------------------------------------------------

    def dead_letter_queues(self) -> DeadLetterQueues:
        """The agents' DLQs (list, count, redrive), as the local cloud reads them."""
        return DeadLetterQueues(
            self.platform, self.sqs, None, lambda: last_failure_reasons(self._handlings)
        )

    def dead_letters(self, agent: str | None = None) -> list[DeadLetter]:
        """The messages now in the DLQs (of one agent, or of all), with their kind and the last
        error."""
        return self.dead_letter_queues().scan(agent)

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queues (as new messages flagged
        `SoormaRedriven`); return how many."""
        return self.dead_letter_queues().redrive(agent, message_ids)
