"""`InMemoryBus`: EventBridge rules and SQS queues in memory, feeding agents through their
Lambda handler (the real runtime), for fast unit tests: no moto, no network."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soorma.config import Settings
from soorma.deadlines import InMemoryDeadlines
from soorma.publishing import EventBridgePublisher, encode_event
from soorma.requests import InMemoryPendingRequests, sent_requests
from soorma.runtime import LambdaRuntime
from soorma.runtime.dead_letters import dead_letter_reason
from soorma.runtime.transport import SqsRecord
from soorma_common import naming
from soorma_common.delivery import BATCH_SIZE, MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import PermanentError
from soorma_common.routing import rules_for
from soorma_common.topics import EventTopic
from soorma_dev.envelopes import OutsideSender
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory.claims import InMemoryClaimStore
from soorma_dev.inmemory.eventbridge import InMemoryEventBridge
from soorma_dev.inmemory.queues import Message, Queue
from soorma_dev.inmemory.transport import InMemoryTransport
from soorma_dev.sqs_events import REDRIVEN_MESSAGE_ATTRIBUTES, lambda_event
from soorma_dev.testing.batches import (
    DeliveredRecord,
    OutcomeRecorder,
    batch_handlings,
    moved_after_max_receives,
)
from soorma_dev.testing.records import (
    DeadLetter,
    DeadLetterKind,
    Handling,
    TraceNode,
    causation_tree,
    envelope_of,
    error_reason,
)

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class InMemoryBus(OutsideSender):
    """EventBridge rules and SQS queues in memory, feeding agents through their Lambda handler.

    `agents` are agent objects or function folders (`examples/<scenario>/<agent>`). Each agent's
    runtime is replaced by one whose transport is this bus until `close()` (or the end of a
    `with` block). `idempotency=False` runs without claims (as with `SOORMA_IDEMPOTENCY=off`).
    """

    def __init__(
        self,
        agents: Iterable[Any],
        *,
        stage: str = "test",
        idempotency: bool = True,
        max_receive_count: int = MAX_RECEIVE_COUNT,
        batch_size: int = BATCH_SIZE,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.stage = naming.check_stage(stage)
        self.bus_name = naming.bus_name(stage)
        self.account = account
        self.region = region
        self.max_receive_count = max_receive_count
        self.batch_size = batch_size
        self.agents: dict[str, Any] = {}
        for item in agents:
            agent = _as_agent(item)
            if agent.name in self.agents:
                raise ValueError(f"two agents are named {agent.name!r}: agent names must be unique")
            self.agents[agent.name] = agent

        self.eventbridge = InMemoryEventBridge(self.bus_name, account=account, region=region)
        #: Every envelope put on the bus, in order (sent from outside and published by agents).
        self.published: list[EventEnvelope] = self.eventbridge.published
        #: The entries of every PutEvents call, one list per call.
        self.put_calls: list[list[dict[str, Any]]] = self.eventbridge.put_calls
        self._handlings: list[Handling] = []  # every record delivered and its outcome
        #: Every Lambda invocation: (agent, the SQS event passed, the response returned or None).
        self.invocations: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        self._dead: list[DeadLetter] = []
        self._queues: dict[tuple[str, EventTopic], Queue] = {}
        self._by_arn: dict[str, Queue] = {}
        self._outcomes = OutcomeRecorder()  # of the batch being delivered
        #: Every request sent on the bus (by agents, or by `send` with `reply_to`), checked
        #: against each reply as the runtime does on AWS: a forged reply is dead-lettered.
        self.pending_requests = InMemoryPendingRequests()
        #: Request deadlines set by agents (`request(..., timeout=)`); `fire_deadlines` puts the
        #: timeout replies that are due.
        self.deadlines = InMemoryDeadlines()

        # No backoff between PutEvents retries: the bus answers at once.
        self._conf = Settings.from_env(
            {"SOORMA_STAGE": stage, "SOORMA_PUBLISH_BACKOFF_SECONDS": "0"}
        )
        for agent in self.agents.values():
            manifest = agent.manifest()
            for topic in manifest.topics():
                queue = Queue.named(stage, agent.name, topic, account=account, region=region)
                self._queues[(agent.name, topic)] = self._by_arn[queue.arn] = queue
            for rule in rules_for(manifest):
                self.eventbridge.add_rule(rule, self._queues[(agent.name, rule.topic)])
            transport = InMemoryTransport(
                self.eventbridge,
                self._dead_letter,
                InMemoryClaimStore() if idempotency else None,
                self.pending_requests,
                self.deadlines,
            )
            agent.use_runtime(
                LambdaRuntime(
                    agent, transport=transport, on_outcome=self._outcomes.observe, conf=self._conf
                )
            )

    # ---- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Give every agent back its default runtime."""
        for agent in self.agents.values():
            agent.use_runtime(None)

    def __enter__(self) -> InMemoryBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- putting events on the bus ------------------------------------------------------------

    def put_outside(self, envelopes: Sequence[EventEnvelope]) -> None:
        """What `send` puts with (as `soorma send` does, see `put`)."""
        self.put(*envelopes)

    def put(self, *envelopes: EventEnvelope) -> None:
        """Put ready-made envelopes on the bus through the SDK's publisher (batches of 10)."""
        limit = self._conf.max_event_bytes
        for envelope in envelopes:
            if envelope.reply_to:
                self.pending_requests.record(sent_requests(envelope.reply_to, [envelope.to_wire()]))
        EventBridgePublisher(self.bus_name, sink=self.eventbridge, backoff_seconds=0).put(
            [encode_event(envelope.to_wire(), limit) for envelope in envelopes]
        )

    def fire_deadlines(self, now: datetime | None = None) -> int:
        """Put the timeout replies due at `now` (default: now; pass a later time to skip ahead)
        as EventBridge Scheduler would; returns how many."""
        due = self.deadlines.due(now or datetime.now(UTC))
        self.put(*(EventEnvelope.from_wire(reply) for reply in due))
        return len(due)

    def fail_next_entries(self, count: int) -> None:
        """Make PutEvents report the next `count` entries as failed (`InternalFailure`)."""
        self.eventbridge.fail_next_entries(count)

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        """EventBridge `PutEvents` on this bus (raw entries, as any producer may send them):
        each entry is matched against every rule and copied to the queues of the rules it
        matches. Returns PutEvents' response shape."""
        return self.eventbridge.put_events(Entries=Entries)

    # ---- delivering -------------------------------------------------------------------------

    def pending(self) -> int:
        """Messages waiting in the agents' queues (DLQs excluded)."""
        return sum(len(q.messages) for q in self._queues.values())

    def run_until_idle(self, timeout: float = 60.0, *, max_batches: int = 10_000) -> int:
        """Deliver batches, one queue after another, until every queue is empty; return how
        many handlings that made.

        A failed record becomes visible again at once (its visibility timeout is taken as
        passed) and joins the back of its queue. Raises `TimeoutError` when the queues are still
        busy after `timeout` seconds or `max_batches` batches (an agent that keeps replying to
        itself).
        """
        before, batches = len(self._handlings), 0
        deadline = time.monotonic() + timeout
        while self.pending():
            for queue in list(self._queues.values()):
                if queue.messages:
                    self._deliver(queue)
                    batches += 1
                    if batches >= max_batches or time.monotonic() > deadline:
                        raise TimeoutError(
                            f"queues still busy after {batches} batches: {self.pending()} "
                            "messages waiting (an agent replying to itself?)"
                        )
        return len(self._handlings) - before

    def deliver(self, agent: str, topic: EventTopic | str) -> list[Handling]:
        """Deliver one batch from one agent's queue; return what became of each record."""
        before = len(self._handlings)
        queue = self._queues[(agent, EventTopic.parse(topic))]
        if queue.messages:
            self._deliver(queue)
        return self._handlings[before:]

    def _deliver(self, queue: Queue) -> None:
        batch = [queue.messages.popleft() for _ in range(min(self.batch_size, len(queue.messages)))]
        now_ms = int(time.time() * 1000)
        event = lambda_event([m.receive(now_ms) for m in batch], queue.arn, self.region)
        self._outcomes.begin_batch()
        agent = self.agents[queue.agent]
        try:
            response = agent.lambda_handler(
                event, LambdaContextStub(naming.function_name(self.stage, queue.agent))
            )
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            crash: str | None = None
        # The whole invocation failed (on Lambda a handler's sys.exit too, Runtime.ExitError):
        # every record of the batch comes back; only an interrupt of the test run propagates.
        except (Exception, SystemExit) as exc:
            response = None
            failed = {m.message_id for m in batch}
            crash = f"{type(exc).__name__}: {exc}"
        self.invocations.append((queue.agent, event, response))
        records = [DeliveredRecord(m.message_id, m.body, m.receive_count) for m in batch]
        handlings = batch_handlings(
            queue.agent, queue.topic.value, records, failed, self._outcomes.by_message, crash
        )
        for message, handling in zip(batch, handlings, strict=True):
            self._handlings.append(handling)
            if handling.outcome != "failed":
                continue
            if message.receive_count < self.max_receive_count:
                queue.messages.append(message)
            else:  # SQS moves it to the DLQ instead of delivering it again
                self._move_to_dlq(queue, message, handling.reason)
                self._handlings.append(moved_after_max_receives(handling))

    # ---- dead letters -----------------------------------------------------------------------

    def _dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """The transport's dead-letter sink: the record's body into its queue's DLQ."""
        queue = self._by_arn.get(str(record.get("eventSourceARN", "")))
        if queue is None:
            raise LookupError(
                f"queue {record.get('eventSourceARN')!r} does not exist on this in-memory bus"
            )
        body = str(record.get("body") or "")
        reason = error_reason(type(error).__name__, dead_letter_reason(error))
        self._dead.append(self._letter(queue, str(uuid.uuid4()), "permanent-error", reason, body))

    def _move_to_dlq(self, queue: Queue, message: Message, reason: str | None) -> None:
        """SQS's redrive after `maxReceiveCount` receives; the reason is the last failure's."""
        self._dead.append(
            self._letter(
                queue, message.message_id, "redrive-after-max-receives", reason, message.body
            )
        )

    @staticmethod
    def _letter(
        queue: Queue, message_id: str, kind: DeadLetterKind, reason: str | None, body: str
    ) -> DeadLetter:
        return DeadLetter(
            agent=queue.agent,
            topic=queue.topic.value,
            message_id=message_id,
            kind=kind,
            reason=reason,
            envelope=envelope_of(body),
            body=body,
            queue=queue.name,
            dlq_url=queue.dlq_url,
        )

    def dead_letters(self, agent: str | None = None) -> list[DeadLetter]:
        """The messages now in the DLQs (of one agent, or all)."""
        return [d for d in self._dead if agent is None or d.agent == agent]

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queues (as new messages flagged
        `SoormaRedriven`, so an expired claim is refused); return how many."""
        wanted = None if message_ids is None else set(message_ids)
        moved = [
            d
            for d in self._dead
            if (agent is None or d.agent == agent) and (wanted is None or d.message_id in wanted)
        ]
        for letter in moved:
            self._dead.remove(letter)
            self._queues[(letter.agent, EventTopic.parse(letter.topic))].messages.append(
                Message(
                    message_id=str(uuid.uuid4()),
                    body=letter.body,
                    attributes=dict(REDRIVEN_MESSAGE_ATTRIBUTES),
                )
            )
        return len(moved)

    # ---- reading what happened --------------------------------------------------------------

    def handlings(self, agent: str | None = None) -> list[Handling]:
        """Every record delivered (to one agent, or to any) and its outcome, in order."""
        return [h for h in self._handlings if agent is None or h.agent == agent]

    def handled(self, agent: str | None = None) -> list[EventEnvelope]:
        """Envelopes handled successfully (by one agent, or by any), in order."""
        envelopes = {e.id: e for e in self.published}
        return [
            envelopes[h.event_id]
            for h in self.handlings(agent)
            if h.outcome == "handled" and h.event_id in envelopes
        ]

    def handled_pairs(self) -> list[tuple[str, str]]:
        """`(agent, event_type)` of every successful handling, in order."""
        return [
            (h.agent, h.event_type)
            for h in self._handlings
            if h.outcome == "handled" and h.event_type is not None
        ]

    def events(self, correlation_id: str) -> list[EventEnvelope]:
        """Every envelope put on the bus with this correlation id, in order."""
        return [e for e in self.published if e.correlation_id == correlation_id]

    def trace(self, correlation_id: str) -> list[TraceNode]:
        """The causation tree of a workflow: its root events, each with handlings and children."""
        return causation_tree(self.events(correlation_id), self._handlings)


def _as_agent(item: Any) -> Any:
    if isinstance(item, str | Path):
        from soorma_dev.manifests import load_agent

        return load_agent(item)
    return item
