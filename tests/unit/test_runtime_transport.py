"""`LambdaRuntime` through its one seam: a `Transport` (PutEvents entries, dead letters, claims)
and the `on_outcome` observer, which hears exactly one final outcome per record of a batch.

The batches are real shapes: envelopes put through the SDK's publisher into the in-memory
EventBridge, routed by the agent's own rules into its queue, received as SQS messages and turned
into the Lambda SQS event (`soorma_dev.sqs_events`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from soorma import Agent
from soorma.config import Settings
from soorma.publishing import (
    EventBridgePublisher,
    EventPublisher,
    OutgoingEvent,
    PutEventsEntry,
    encode_event,
)
from soorma.runtime import LambdaRuntime, RecordOutcome
from soorma.runtime.transport import ClaimKeeper, SqsRecord
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import EventTooLargeError, PermanentError, PublishError, TransientError
from soorma_common.naming import bus_name
from soorma_common.routing import rules_for
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory import InMemoryClaimStore, InMemoryEventBridge
from soorma_dev.inmemory.queues import Queue
from soorma_dev.localcloud.pump import RecordOutcomes
from soorma_dev.localcloud.worker import observe_outcomes
from soorma_dev.sqs_events import lambda_event

FACTS = EventTopic.BUSINESS_FACTS
ACCOUNT, REGION = "123456789012", "us-east-1"
CONF = Settings.from_env(
    {
        "SOORMA_STAGE": "test",
        "SOORMA_PUBLISH_BACKOFF_SECONDS": "0",
        "SOORMA_PUBLISH_MAX_ATTEMPTS": "2",
    }
)


class RecordingTransport:
    """A transport that keeps what it is given; entries whose `Detail` holds `fail_marker` fail
    (`InternalFailure`), and `broken` makes every request raise."""

    def __init__(self, *, fail_marker: str | None = None, broken: bool = False) -> None:
        self.requests: list[list[PutEventsEntry]] = []
        self.dead: list[tuple[str, PermanentError]] = []
        self.fail_marker = fail_marker
        self.broken = broken
        self._claims = InMemoryClaimStore()

    @property
    def claims(self) -> ClaimKeeper | None:
        return self._claims

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        if self.broken:
            raise ConnectionError("injected: connection reset")
        self.requests.append(list(entries))
        marker = self.fail_marker
        return {
            position: "InternalFailure"
            for position, entry in enumerate(entries)
            if marker is not None and marker in entry["Detail"]
        }

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        self.dead.append((str(record["messageId"]), error))

    def put_details(self) -> list[dict[str, Any]]:
        return [json.loads(entry["Detail"]) for request in self.requests for entry in request]


def worker(runs: list[str]) -> Agent:
    agent = Agent("jobs")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        runs.append(event.data["kind"])
        kind = event.data["kind"]
        if kind == "flaky":
            raise TransientError("database busy")
        if kind == "bad":
            raise PermanentError("job has no owner")
        if kind != "quiet":
            context.bus.announce("job.done", {"kind": kind})

    return agent


def delivered_batch(agent: Agent, *kinds: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The Lambda SQS event of one `job.queued` per kind, and kind -> SQS message id."""
    bridge = InMemoryEventBridge(bus_name("test"), account=ACCOUNT, region=REGION)
    queue = Queue.named("test", agent.name, FACTS, account=ACCOUNT, region=REGION)
    for rule in rules_for(agent.manifest()):
        bridge.add_rule(rule, queue)
    envelopes = [
        EventEnvelope(source="soorma.tests", type="job.queued", topic=FACTS, data={"kind": kind})
        for kind in kinds
    ]
    EventBridgePublisher(bridge.bus_name, sink=bridge).put(
        [encode_event(e.to_wire(), CONF.max_event_bytes) for e in envelopes]
    )
    event = lambda_event([m.receive(0) for m in queue.messages], queue.arn, REGION)
    ids = {kind: record["messageId"] for kind, record in zip(kinds, event["Records"], strict=True)}
    return event, ids


def run(runtime: LambdaRuntime, event: dict[str, Any]) -> list[str]:
    response = runtime.handle_batch(event, LambdaContextStub("soorma-test-jobs"))
    return sorted(f["itemIdentifier"] for f in response["batchItemFailures"])


def test_every_record_gets_exactly_one_final_outcome() -> None:
    runs: list[str] = []
    agent = worker(runs)
    transport = RecordingTransport()
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(agent, transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = delivered_batch(agent, "ok", "quiet", "flaky", "bad")
    malformed = {**event["Records"][0], "messageId": "m-malformed", "body": "not json"}
    event["Records"].append(malformed)

    failed = run(runtime, event)

    assert failed == [ids["flaky"]]
    by_id = {outcome.message_id: outcome for outcome in heard}
    assert len(heard) == len(by_id) == 5  # one call per record
    assert {by_id[ids[kind]].outcome for kind in ("ok", "quiet")} == {"handled"}
    assert by_id[ids["ok"]].reason is None
    assert by_id[ids["flaky"]].outcome == "failed"
    assert by_id[ids["flaky"]].reason == "TransientError: database busy"
    assert by_id[ids["bad"]].outcome == "dead-lettered"
    assert by_id[ids["bad"]].reason == "PermanentError: job has no owner"
    assert by_id["m-malformed"].outcome == "dead-lettered"
    assert "not JSON" in (by_id["m-malformed"].reason or "")
    # the transport got the dead letters, by message id, and the one event published
    assert [(message_id, type(e).__name__) for message_id, e in transport.dead] == [
        (ids["bad"], "PermanentError"),
        ("m-malformed", "MalformedRecordError"),
    ]
    assert [d["data"] for d in transport.put_details()] == [{"kind": "ok"}]


def test_a_record_whose_events_cannot_be_put_fails_alone_and_its_redelivery_reputs_them() -> None:
    runs: list[str] = []
    agent = worker(runs)
    transport = RecordingTransport(fail_marker='"kind":"stuck"')
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(agent, transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = delivered_batch(agent, "ok", "stuck")

    assert run(runtime, event) == [ids["stuck"]]
    outcomes = {o.message_id: o for o in heard}
    assert outcomes[ids["ok"]].outcome == "handled"
    stuck = outcomes[ids["stuck"]]
    assert stuck.outcome == "failed" and isinstance(stuck.error, PublishError)
    assert "PutEvents failed" in (stuck.reason or "") and "InternalFailure" in (stuck.reason or "")
    # both events went in one request; the failed entry alone was retried (max attempts: 2)
    assert [len(request) for request in transport.requests] == [2, 1]
    first_ids = [d["id"] for d in transport.put_details() if d["data"] == {"kind": "stuck"}]

    # the redelivery finds the completed claim: the handler does not run, the same event is put
    transport.fail_marker, transport.requests, heard[:] = None, [], []
    assert run(runtime, event) == []
    assert runs == ["ok", "stuck"]
    reput = {d["data"]["kind"]: d["id"] for d in transport.put_details()}
    assert reput["stuck"] == first_ids[0]
    assert {o.outcome for o in heard} == {"handled"} and len(heard) == 2


def test_a_failed_put_request_fails_every_record_with_events_and_spares_the_quiet_ones() -> None:
    agent = worker([])
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(
        agent, transport=RecordingTransport(broken=True), on_outcome=heard.append, conf=CONF
    )
    event, ids = delivered_batch(agent, "ok", "quiet", "also-ok")

    assert run(runtime, event) == sorted([ids["ok"], ids["also-ok"]])
    outcomes = {o.message_id: o for o in heard}
    assert outcomes[ids["quiet"]].outcome == "handled"
    for kind in ("ok", "also-ok"):
        assert outcomes[ids[kind]].outcome == "failed"
        assert "ConnectionError: injected" in (outcomes[ids[kind]].reason or "")


def test_the_publisher_batches_by_ten_across_groups_and_retries_only_failed_entries() -> None:
    transport = RecordingTransport(fail_marker='"n":7,')
    publisher = EventBridgePublisher(
        "soorma-test", sink=transport, max_attempts=3, sleep=lambda _: None
    )

    def group(first: int, count: int) -> list[OutgoingEvent]:
        return [
            encode_event(
                EventEnvelope(
                    source="soorma.a", type="x.y", topic=FACTS, data={"n": n, "m": 0}
                ).to_wire(),
                CONF.max_event_bytes,
            )
            for n in range(first, first + count)
        ]

    outcome = publisher.put_groups([group(0, 5), group(5, 12), group(17, 8)])

    assert [len(request) for request in transport.requests] == [10, 1, 1, 10, 5]
    assert outcome.failed == {1: ["InternalFailure"]}  # n=7 is in the second group
    assert {entry["EventBusName"] for entry in transport.requests[0]} == {"soorma-test"}


def test_an_event_in_two_groups_is_put_once_and_its_failure_fails_both_groups() -> None:
    transport = RecordingTransport(fail_marker='"n":1,')
    publisher = EventBridgePublisher(
        "soorma-test", sink=transport, max_attempts=2, sleep=lambda _: None
    )
    events = [
        encode_event(
            EventEnvelope(
                source="soorma.a", type="x.y", topic=FACTS, data={"n": n, "m": 0}
            ).to_wire(),
            CONF.max_event_bytes,
        )
        for n in range(3)
    ]
    # A redelivery in the same batch re-sends the first delivery's events: same ids, same bytes.
    copies = [
        OutgoingEvent(e.id, e.type, e.source, e.detail.encode().decode(), e.size, e.wire)
        for e in events
    ]

    outcome = publisher.put_groups([events[:2], [events[2]], copies[:2]])

    first_request = transport.requests[0]
    assert [json.loads(entry["Detail"])["id"] for entry in first_request] == [e.id for e in events]
    assert outcome.failed == {0: ["InternalFailure"], 2: ["InternalFailure"]}


def test_events_sharing_an_id_with_other_bytes_are_each_put() -> None:
    transport = RecordingTransport()
    publisher = EventBridgePublisher("soorma-test", sink=transport, sleep=lambda _: None)
    wire = EventEnvelope(source="soorma.a", type="x.y", topic=FACTS, data={"n": 1}).to_wire()
    first = encode_event(wire, CONF.max_event_bytes)
    other = encode_event({**wire, "data": {"n": 2}}, CONF.max_event_bytes)

    assert publisher.put_groups([[first], [other]]).failed == {}
    assert [entry["Detail"] for entry in transport.requests[0]] == [first.detail, other.detail]


def test_event_publisher_measures_once_and_puts_through_its_sink() -> None:
    transport = RecordingTransport()
    publisher = EventPublisher(
        "shop.api", bus="soorma-test", sink=transport, validate_payload=None, max_event_bytes=600
    )
    sent = publisher.publish(FACTS, "order.placed", {"order": "o-1"})
    [[entry]] = transport.requests
    assert (entry["Source"], entry["DetailType"]) == ("shop.api", "order.placed")
    assert json.loads(entry["Detail"])["id"] == sent.id

    with pytest.raises(EventTooLargeError, match="over the 600-byte limit"):
        publisher.publish(FACTS, "order.placed", {"order": "x" * 600})
    assert len(transport.requests) == 1  # nothing was put


def test_the_local_cloud_worker_observes_outcomes_keeping_the_agents_transport() -> None:
    agent = worker([])
    transport = RecordingTransport()
    agent.use_runtime(LambdaRuntime(agent, transport=transport, conf=CONF))
    outcomes = RecordOutcomes({})

    observe_outcomes(agent, outcomes)
    event, ids = delivered_batch(agent, "ok", "flaky", "bad")
    agent.lambda_handler(event, LambdaContextStub("soorma-test-jobs"))

    assert agent.runtime.transport is transport
    assert outcomes.by_message == {
        ids["ok"]: ("handled", None),
        ids["flaky"]: ("failed", "TransientError: database busy"),
        ids["bad"]: ("dead-lettered", "PermanentError: job has no owner"),
    }
