"""An in-memory EventBridge + SQS for fast unit tests of agents: no moto, no network.

`InMemoryBus` drives the same runtime code path as Lambda does (`LambdaRuntime`, through
`agent.lambda_handler`), replacing only its I/O seams: PutEvents, the DLQ `SendMessage` and the
idempotency table. Events put on the bus are matched against each agent's rules
(`soorma_common.routing.rules_for` + `pattern_matches`) into one queue per (agent, topic), and
delivered in batches of real SQS-record / EventBridge-event shape (`soorma_dev.sqs_events`).
Failed records (`batchItemFailures`) come back until `maxReceiveCount`, then go to the DLQ;
permanent errors go to the DLQ at once (the runtime sends them). Everything is recorded.

```python
bus = InMemoryBus([greeter, requester])
bus.send("visitor.arrived", {"name": "Ada"}, topic="business-facts", tenant_id="acme")
bus.run_until_idle()
assert [e.type for e in bus.handled("greeter")] == ["greeting.compose"]
```
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from soorma.runtime.claims import ClaimStore
from soorma_common import naming
from soorma_common.delivery import BATCH_SIZE, MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import SoormaError
from soorma_common.routing import RuleSpec, pattern_matches, rules_for
from soorma_common.topics import EventTopic
from soorma_dev.envelopes import outside_envelope
from soorma_dev.harness import LambdaContextStub
from soorma_dev.localcloud.models import DeadLetter, Outcome
from soorma_dev.sqs_events import lambda_event

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class PutEventsValidationError(SoormaError):
    """A PutEvents call that AWS itself would reject (more than 10 entries, unknown bus)."""


# ---- what the bus records ---------------------------------------------------------------------


@dataclass(frozen=True)
class Handling:
    """One record delivered to one agent and what became of it."""

    agent: str
    topic: EventTopic
    message_id: str
    receive_count: int
    outcome: Outcome
    envelope: EventEnvelope | None
    reason: str | None = None
    time: str = ""


@dataclass
class TraceNode:
    """One event of a workflow, who handled it, and the events it caused."""

    envelope: EventEnvelope
    handled: list[Handling] = field(default_factory=list)
    children: list[TraceNode] = field(default_factory=list)

    def walk(self) -> list[TraceNode]:
        """This node and every descendant, depth first."""
        return list(walk([self]))


# ---- queues -----------------------------------------------------------------------------------


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    sent_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    receive_count: int = 0
    first_receive_ms: int | None = None


@dataclass
class _Queue:
    agent: str
    topic: EventTopic
    name: str
    url: str
    arn: str
    dlq_url: str
    messages: deque[_Message] = field(default_factory=deque)


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """A Powertools idempotency persistence layer in a dict, with DynamoDB's put condition:
    a key may be taken only if absent, expired, or in progress past its in-progress expiry."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        old = self.records.get(data_record.idempotency_key)
        now = time.time()
        if old is not None and (old.expiry_timestamp or 0) >= now:
            stale_claim = (
                old.status == STATUS_CONSTANTS["INPROGRESS"]
                and old.in_progress_expiry_timestamp is not None
                and old.in_progress_expiry_timestamp < now * 1000
            )
            if not stale_claim:
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class InMemoryClaimStore(ClaimStore):
    """The runtime's `ClaimStore` (Powertools idempotency, the same `run_once`) over an in-memory
    persistence layer instead of DynamoDB."""

    def __init__(self, *, expires_after_seconds: int = 3600) -> None:
        self.persistence = InMemoryPersistenceLayer()
        super().__init__(
            "in-memory",
            expires_after_seconds=expires_after_seconds,
            persistence_layer=self.persistence,
        )


# ---- the bus ----------------------------------------------------------------------------------


class InMemoryBus:
    """EventBridge rules and SQS queues in memory, feeding agents through their Lambda handler.

    `agents` are agent objects or function folders (`examples/<scenario>/<agent>`). Each agent's
    runtime is replaced by one wired to this bus until `close()` (or the end of a `with` block).
    `idempotency=False` runs without claims (as with `SOORMA_IDEMPOTENCY=off`).
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
        from soorma.config import Settings
        from soorma.publishing import EventBridgePublisher
        from soorma.runtime import LambdaRuntime
        from soorma.runtime.dead_letters import DeadLetterSender

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

        #: Every envelope put on the bus, in order (sent from outside and published by agents).
        self.published: list[EventEnvelope] = []
        #: The entries of every PutEvents call, one list per call.
        self.put_calls: list[list[dict[str, Any]]] = []
        #: Every record delivered to an agent and its outcome, in order.
        self.handlings: list[Handling] = []
        #: Every Lambda invocation: (agent, the SQS event passed, the response returned or None).
        self.invocations: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        self._dead: list[DeadLetter] = []
        self._failing_entries = 0
        self._queues: dict[tuple[str, EventTopic], _Queue] = {}
        self._by_url: dict[str, _Queue] = {}
        self._rules: list[tuple[str, RuleSpec]] = []
        self._in_flight: tuple[_Queue, list[_Message], dict[str, str]] | None = None

        conf = Settings.from_env({"SOORMA_STAGE": stage})
        for agent in self.agents.values():
            manifest = agent.manifest()
            for topic in manifest.topics():
                self._add_queue(agent.name, topic)
            self._rules += [(agent.name, rule) for rule in rules_for(manifest)]
            agent.use_runtime(
                LambdaRuntime(
                    agent,
                    publisher=EventBridgePublisher(
                        self.bus_name, put_events=self.put_events, sleep=lambda _: None
                    ),
                    dead_letters=DeadLetterSender(
                        send_message=self._send_dead_letter, queue_url_of=self._queue_url_of
                    ),
                    claims=InMemoryClaimStore() if idempotency else None,
                    conf=conf,
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

    def send(
        self,
        event_type: str,
        data: Any = None,
        *,
        topic: EventTopic | str,
        source: str = "soorma.tests",
        **attributes: Any,
    ) -> EventEnvelope:
        """Put one event on the bus from outside any agent (as `soorma send` does); return it.

        `attributes` are envelope attributes by Python name (`tenant_id`, `user_id`,
        `correlation_id` to continue a workflow, ...).
        """
        envelope = outside_envelope(event_type, data, topic=topic, source=source, **attributes)
        self.put(envelope)
        return envelope

    def put(self, *envelopes: EventEnvelope) -> None:
        """Put ready-made envelopes on the bus through the SDK's publisher (batches of 10)."""
        from soorma.publishing import EventBridgePublisher

        EventBridgePublisher(self.bus_name, put_events=self.put_events, sleep=lambda _: None).put(
            envelopes
        )

    def fail_next_entries(self, count: int) -> None:
        """Make PutEvents report the next `count` entries as failed (`InternalFailure`)."""
        self._failing_entries += count

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        """EventBridge `PutEvents` on this bus (raw entries, as any producer may send them):
        each entry is matched against every rule and copied to the queues of the rules it
        matches. Returns PutEvents' response shape."""
        if not 1 <= len(Entries) <= 10:
            raise PutEventsValidationError(
                f"PutEvents takes 1 to 10 entries; got {len(Entries)} (AWS rejects the call)"
            )
        self.put_calls.append([dict(e) for e in Entries])
        results: list[dict[str, Any]] = []
        for entry in Entries:
            if self._failing_entries:
                self._failing_entries -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
                continue
            results.append({"EventId": self._route(entry)})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _route(self, entry: dict[str, Any]) -> str:
        bus = entry.get("EventBusName") or "default"
        if bus not in (
            self.bus_name,
            f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.bus_name}",
        ):
            raise PutEventsValidationError(
                f"event bus {bus!r} does not exist (this bus is {self.bus_name!r})"
            )
        event_id = str(uuid.uuid4())
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": list(entry.get("Resources", [])),
            "detail": json.loads(entry["Detail"]),
        }
        self.published.append(EventEnvelope.from_wire(event["detail"]))
        body = json.dumps(event)
        # One message per matching rule, as EventBridge does (two rules -> two messages).
        for agent, rule in self._rules:
            if pattern_matches(rule.pattern, event):
                self._queues[(agent, rule.topic)].messages.append(
                    _Message(message_id=str(uuid.uuid4()), body=body)
                )
        return event_id

    # ---- delivering -------------------------------------------------------------------------

    def pending(self) -> int:
        """Messages waiting in the agents' queues (DLQs excluded)."""
        return sum(len(q.messages) for q in self._queues.values())

    def run_until_idle(self, max_batches: int = 10_000) -> int:
        """Deliver batches, one queue after another, until every queue is empty.

        Returns the number of batches delivered. A failed record becomes visible again at once
        (its visibility timeout is taken as passed) and joins the back of its queue.
        """
        batches = 0
        while self.pending():
            for queue in list(self._queues.values()):
                if queue.messages:
                    self._deliver(queue)
                    batches += 1
                    if batches >= max_batches:
                        raise RuntimeError(f"queues still busy after {max_batches} batches")
        return batches

    def deliver(self, agent: str, topic: EventTopic | str) -> list[Handling]:
        """Deliver one batch from one agent's queue; return what became of each record."""
        before = len(self.handlings)
        queue = self._queues[(agent, EventTopic.parse(topic))]
        if queue.messages:
            self._deliver(queue)
        return self.handlings[before:]

    def _deliver(self, queue: _Queue) -> None:
        batch = [queue.messages.popleft() for _ in range(min(self.batch_size, len(queue.messages)))]
        now_ms = int(time.time() * 1000)
        received = []
        for message in batch:
            message.receive_count += 1
            message.first_receive_ms = message.first_receive_ms or now_ms
            received.append(self._received(message))
        event = lambda_event(received, queue.arn, self.region)
        dead: dict[str, str] = {}
        self._in_flight = (queue, batch, dead)
        agent = self.agents[queue.agent]
        try:
            response = agent.lambda_handler(
                event, LambdaContextStub(naming.function_name(self.stage, queue.agent))
            )
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            crash: str | None = None
        except Exception as exc:  # the whole invocation failed: Lambda returns every record
            response = None
            failed = {m.message_id for m in batch}
            crash = f"{type(exc).__name__}: {exc}"
        finally:
            self._in_flight = None
        self.invocations.append((queue.agent, event, response))
        for message in batch:
            envelope = _envelope_of(message.body)
            if message.message_id in dead:
                self._record(queue, message, "dead-lettered", envelope, dead[message.message_id])
            elif message.message_id in failed:
                self._record(queue, message, "failed", envelope, crash)
                if message.receive_count >= self.max_receive_count:
                    self._redrive_to_dlq(queue, message, envelope)
                else:
                    queue.messages.append(message)
            else:
                self._record(queue, message, "handled", envelope, None)

    def _received(self, message: _Message) -> dict[str, Any]:
        """The message as SQS `ReceiveMessage` returns it (with AttributeNames=All)."""
        return {
            "MessageId": message.message_id,
            "ReceiptHandle": f"{message.message_id}#{message.receive_count}",
            "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
            "Body": message.body,
            "Attributes": {
                "ApproximateReceiveCount": str(message.receive_count),
                "SentTimestamp": str(message.sent_ms),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
            },
            "MessageAttributes": dict(message.attributes),
        }

    def _record(
        self,
        queue: _Queue,
        message: _Message,
        outcome: Outcome,
        envelope: EventEnvelope | None,
        reason: str | None,
    ) -> None:
        self.handlings.append(
            Handling(
                queue.agent,
                queue.topic,
                message.message_id,
                message.receive_count,
                outcome,
                envelope,
                reason,
                datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            )
        )

    # ---- dead letters -----------------------------------------------------------------------

    def _queue_url_of(self, name: str, account: str) -> str:
        for queue in self._queues.values():
            if naming.dead_letter_queue_name(queue.name) == name:
                return queue.dlq_url
            if queue.name == name:
                return queue.url
        raise LookupError(f"queue {name!r} does not exist on this in-memory bus")

    def _send_dead_letter(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        MessageAttributes: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        from soorma.runtime.dead_letters import KIND_ATTRIBUTE, REASON_ATTRIBUTE

        queue = self._by_url.get(QueueUrl)
        if queue is None:
            raise LookupError(f"queue {QueueUrl!r} does not exist on this in-memory bus")
        attributes = MessageAttributes or {}
        reason = attributes.get(REASON_ATTRIBUTE, {}).get("StringValue")
        kind = attributes.get(KIND_ATTRIBUTE, {}).get("StringValue", "permanent-error")
        if self._in_flight is not None and self._in_flight[0] is queue:
            # The runtime handles a batch's records in order: the first record of the batch with
            # this body that is not dead yet is the one being sent.
            _, batch, dead = self._in_flight
            for message in batch:
                if message.body == MessageBody and message.message_id not in dead:
                    dead[message.message_id] = reason or ""
                    break
        message_id = str(uuid.uuid4())
        self._dead.append(
            DeadLetter(
                queue.agent,
                queue.topic,
                queue.name,
                queue.dlq_url,
                message_id,
                kind,  # type: ignore[arg-type]
                reason,
                MessageBody,
                _envelope_of(MessageBody),
            )
        )
        return {"MessageId": message_id}

    def _redrive_to_dlq(
        self, queue: _Queue, message: _Message, envelope: EventEnvelope | None
    ) -> None:
        self._dead.append(
            DeadLetter(
                queue.agent,
                queue.topic,
                queue.name,
                queue.dlq_url,
                message.message_id,
                "redrive-after-max-receives",
                f"received {message.receive_count} times (maxReceiveCount "
                f"{self.max_receive_count}) without success",
                message.body,
                envelope,
            )
        )

    def dead_letters(self, agent: str | None = None) -> list[DeadLetter]:
        """The messages now in the DLQs (of one agent, or all)."""
        return [d for d in self._dead if agent is None or d.agent == agent]

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queues (as new messages); return how many."""
        wanted = None if message_ids is None else set(message_ids)
        moved = [
            d
            for d in self._dead
            if (agent is None or d.agent == agent) and (wanted is None or d.message_id in wanted)
        ]
        for letter in moved:
            self._dead.remove(letter)
            self._queues[(letter.agent, letter.topic)].messages.append(
                _Message(message_id=str(uuid.uuid4()), body=letter.body)
            )
        return len(moved)

    # ---- reading what happened --------------------------------------------------------------

    def handled(self, agent: str | None = None) -> list[EventEnvelope]:
        """Envelopes handled successfully (by one agent, or by any), in order."""
        return [
            h.envelope
            for h in self.handlings
            if h.outcome == "handled"
            and h.envelope is not None
            and (agent is None or h.agent == agent)
        ]

    def handled_pairs(self) -> list[tuple[str, str]]:
        """`(agent, event_type)` of every successful handling, in order."""
        return [
            (h.agent, h.envelope.type)
            for h in self.handlings
            if h.outcome == "handled" and h.envelope is not None
        ]

    def events(self, correlation_id: str) -> list[EventEnvelope]:
        """Every envelope put on the bus with this correlation id, in order."""
        return [e for e in self.published if e.correlation_id == correlation_id]

    def trace(self, correlation_id: str) -> list[TraceNode]:
        """The causation tree of a workflow: its root events, each with handlings and children."""
        nodes = {e.id: TraceNode(e) for e in self.events(correlation_id)}
        for handling in self.handlings:
            if handling.envelope is not None and handling.envelope.id in nodes:
                nodes[handling.envelope.id].handled.append(handling)
        roots: list[TraceNode] = []
        for node in nodes.values():
            parent = nodes.get(node.envelope.causation_id or "")
            (parent.children if parent is not None else roots).append(node)
        return roots

    # ---- internals ----------------------------------------------------------------------------

    def _add_queue(self, agent: str, topic: EventTopic) -> None:
        name = naming.queue_name(self.stage, agent, topic)
        base = f"https://sqs.{self.region}.amazonaws.com/{self.account}/"
        url, dlq_url = base + name, base + naming.dead_letter_queue_name(name)
        queue = _Queue(
            agent, topic, name, url, f"arn:aws:sqs:{self.region}:{self.account}:{name}", dlq_url
        )
        self._queues[(agent, topic)] = queue
        self._by_url[url] = self._by_url[dlq_url] = queue


def walk(nodes: Iterable[TraceNode]) -> Iterator[TraceNode]:
    """Every node of a trace tree, depth first."""
    for node in nodes:
        yield node
        yield from walk(node.children)


def _as_agent(item: Any) -> Any:
    if isinstance(item, str | Path):
        from soorma_dev.manifests import load_agent

        return load_agent(item)
    return item


def _envelope_of(body: str) -> EventEnvelope | None:
    try:
        return EventEnvelope.from_wire(json.loads(body)["detail"])
    except (ValueError, KeyError, TypeError, SoormaError):
        return None
