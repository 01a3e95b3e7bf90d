"""Every request gets its one outcome, at the edges: a reply whose payload breaks its schema does
not take the request's one outcome; the platform's timeout reply passes the hop limit; a record
whose requests cannot be recorded fails alone at the flush, never holding back its batch-mates.
On the in-memory bus (its runtimes share its ledger and deadlines) and through a `Transport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from soorma import Tool, Worker
from soorma.config import Settings
from soorma.deadlines import InMemoryDeadlines
from soorma.publishing import EventBridgePublisher, OutgoingEvent, PutEventsEntry, encode_event
from soorma.requests import InMemoryPendingRequests
from soorma.runtime import LambdaRuntime, RecordOutcome
from soorma.runtime.transport import ClaimKeeper, SqsRecord
from soorma_common import EventDefinition, EventEnvelope, EventTopic
from soorma_common.errors import DomainError, InvalidEnvelopeError, PermanentError, PublishError
from soorma_common.naming import PLATFORM_SOURCE, bus_name
from soorma_common.routing import rules_for
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory import InMemoryBus, InMemoryClaimStore, InMemoryEventBridge
from soorma_dev.inmemory.queues import Queue
from soorma_dev.sqs_events import lambda_event

FACTS, RESULTS = EventTopic.BUSINESS_FACTS, EventTopic.ACTION_RESULTS
TIMEOUT = {"success": False, "error": "timeout"}


class Answer(BaseModel):
    success: bool
    value: int


def asker(answers: list[EventEnvelope], *, schema: bool = False) -> Worker:
    computed = EventDefinition(
        event_name="answer.computed", topic=RESULTS, description="", payload_schema=Answer
    )
    agent = Worker(name="asker", events_consumed=(computed,) if schema else ())

    @agent.on_event("question.asked", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("answer.compute", event.data, "answer.computed", timeout=30)

    @agent.on_result("answer.computed")
    def answered(event: EventEnvelope, context: Any) -> None:
        answers.append(event)

    return agent


def solver() -> Tool:
    tool = Tool(name="solver")

    @tool.on_invoke("answer.compute", response_event="answer.computed")
    def solve(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"success": True, "value": 42}

    return tool


def reply(bus: InMemoryBus, data: Any = None, **changes: Any) -> None:
    [request] = [e for e in bus.published if e.type == "answer.compute"]
    attributes: dict[str, Any] = {
        "source": "soorma.solver",
        "type": "answer.computed",
        "topic": RESULTS,
        "data": data,
        "correlation_id": request.correlation_id,
        "causation_id": request.id,
        "reply_to": "asker",
        "tenant_id": request.tenant_id,
    }
    bus.put(EventEnvelope(**(attributes | changes)))


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=31)


# ---- the one outcome and the payload check --------------------------------------------------


def test_an_invalid_reply_is_dead_lettered_and_the_timeout_still_answers() -> None:
    answers: list[EventEnvelope] = []
    with InMemoryBus([asker(answers, schema=True)]) as bus:
        bus.send("question.asked", {}, topic=FACTS, tenant_id="acme")
        bus.run_until_idle()
        reply(bus, {"value": "not a number"})
        bus.run_until_idle()
        [dead] = bus.dead_letters("asker")
        assert (dead.reason or "").startswith("SchemaValidationError")
        assert bus.fire_deadlines(later()) == 1
        bus.run_until_idle()
    assert [a.data for a in answers] == [TIMEOUT]


def test_a_valid_reply_still_wins_and_the_timeout_after_it_is_late() -> None:
    answers: list[EventEnvelope] = []
    with InMemoryBus([asker(answers, schema=True)]) as bus:
        bus.send("question.asked", {}, topic=FACTS, tenant_id="acme")
        bus.run_until_idle()
        reply(bus, {"value": "not a number"})
        reply(bus, {"success": True, "value": 7})
        bus.run_until_idle()
        assert bus.fire_deadlines(later()) == 1
        bus.run_until_idle()
        assert len(bus.dead_letters("asker")) == 1  # the invalid one only
    assert [a.data for a in answers] == [{"success": True, "value": 7}]


@pytest.mark.parametrize("text", ["x" * 300_000, "é" * 200_000, "🙂€" * 50_000], ids=len)
def test_a_domain_error_too_long_for_one_event_still_reaches_the_requester(text: str) -> None:
    answers: list[EventEnvelope] = []
    failing = Tool(name="solver")

    @failing.on_invoke("answer.compute", response_event="answer.computed")
    def solve(event: EventEnvelope, context: Any) -> None:
        raise DomainError("the solver choked: " + text)

    with InMemoryBus([asker(answers), failing]) as bus:
        bus.send("question.asked", {}, topic=FACTS, tenant_id="acme")
        bus.run_until_idle()
        assert bus.dead_letters() == []
    [answer] = answers
    error = answer.data["error"]
    assert answer.data["success"] is False and error.startswith("the solver choked: " + text[:99])
    assert error.endswith(" characters]") and len(error.encode()) < 256 * 1024


# ---- the hop limit and the platform's timeout replies --------------------------------------


def asked_at_the_hop_limit(bus: InMemoryBus) -> None:
    limit = Settings.from_env({"SOORMA_STAGE": "test"}).max_hops
    fact = EventEnvelope(
        source="soorma.upstream",
        type="question.asked",
        topic=FACTS,
        tenant_id="acme",
        hop_count=limit - 1,
        data={},
    )
    bus.put(fact)
    bus.run_until_idle()
    [request] = [e for e in bus.published if e.type == "answer.compute"]
    assert request.hop_count == limit


def test_the_timeout_of_a_request_sent_at_the_hop_limit_is_delivered() -> None:
    answers: list[EventEnvelope] = []
    with InMemoryBus([asker(answers), solver()]) as bus:
        asked_at_the_hop_limit(bus)
        [dead] = bus.dead_letters("asker")  # the solver's reply, one hop over: a loop
        assert "SOORMA_MAX_HOPS" in (dead.reason or "") and dead.envelope is not None
        assert dead.envelope.source == "soorma.solver"
        assert bus.fire_deadlines(later()) == 1
        bus.run_until_idle()
        assert len(bus.dead_letters("asker")) == 1
    assert [(a.source, a.data) for a in answers] == [(PLATFORM_SOURCE, TIMEOUT)]


@pytest.mark.parametrize(
    "changes",
    [
        {"data": {"success": True, "value": 1}},  # not the timeout's payload
        {"source": "soorma.solver", "data": TIMEOUT},  # the payload, not from the platform
    ],
    ids=["platform-reply", "solver-timeout-shape"],
)
def test_other_replies_over_the_hop_limit_are_still_refused(changes: dict[str, Any]) -> None:
    answers: list[EventEnvelope] = []
    with InMemoryBus([asker(answers)]) as bus:
        bus.send("question.asked", {}, topic=FACTS, tenant_id="acme")
        bus.run_until_idle()
        limit = Settings.from_env({"SOORMA_STAGE": "test"}).max_hops
        reply(bus, **{"source": PLATFORM_SOURCE, "hop_count": limit + 1} | changes)
        bus.run_until_idle()
        [dead] = bus.dead_letters("asker")
        assert (dead.reason or "").startswith("LoopDetectedError")
    assert answers == []


# ---- recording requests at the flush, one record at a time ---------------------------------


def bad_deadline_caller() -> Worker:
    """`caller`: for `work.wanted` with `bad`, a request with a malformed hand-set deadline;
    without, an announcement."""
    caller = Worker(name="caller")

    @caller.on_event("work.wanted", topic=FACTS)
    def wanted(event: EventEnvelope, context: Any) -> None:
        if event.data["bad"]:
            context.bus.publish(
                "action-requests",
                "answer.compute",
                {},
                response_event="answer.computed",
                reply_to="caller",
                deadline="2026-1-3T7:30:0Z",
            )
        else:
            context.bus.announce("work.done", {})

    @caller.on_result()
    def result(event: EventEnvelope, context: Any) -> None:
        pass

    return caller


def test_a_bad_hand_set_deadline_is_dead_lettered_alone_and_its_batch_mate_published() -> None:
    caller = bad_deadline_caller()
    with InMemoryBus([caller]) as bus:
        bus.send("work.wanted", {"bad": True}, topic=FACTS, tenant_id="acme")
        bus.send("work.wanted", {"bad": False}, topic=FACTS, tenant_id="acme")
        bus.run_until_idle()
        assert len(bus.invocations) == 1  # one batch
        assert [e.type for e in bus.published if e.type == "work.done"] == ["work.done"]
        assert [e for e in bus.published if e.type == "answer.compute"] == []
        [dead] = bus.dead_letters("caller")
        assert dead.kind == "permanent-error" and "deadline" in (dead.reason or "")
        assert bus.pending_requests.requests == {} and bus.deadlines.pending == {}


CONF = Settings.from_env(
    {
        "SOORMA_STAGE": "test",
        "SOORMA_PUBLISH_BACKOFF_SECONDS": "0",
        "SOORMA_PUBLISH_MAX_ATTEMPTS": "1",
    }
)


class LedgerTransport:
    """Puts and dead letters kept; requests recorded in memory, except a request whose data
    names `fail` (`"permanent"`: refused for good; `"transient"`: the store is down)."""

    def __init__(self, *, dlq_down: bool = False) -> None:
        self.entries: list[PutEventsEntry] = []
        self.dead: list[tuple[str, PermanentError]] = []
        self.dlq_down = dlq_down
        self.claims: ClaimKeeper | None = InMemoryClaimStore()
        self.pending_requests = FailingLedger()
        self.deadlines = InMemoryDeadlines()

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        self.entries += entries
        return {}

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        if self.dlq_down:
            raise ConnectionError("injected: SQS unreachable")
        self.dead.append((str(record["messageId"]), error))


class FailingLedger(InMemoryPendingRequests):
    def record(self, requests: Any) -> None:
        for request in requests:
            if request.request_type == "fail.permanent":
                raise InvalidEnvelopeError("injected: this request can never be kept")
            if request.request_type == "fail.transient":
                raise ConnectionError("injected: the table is throttled")
        super().record(requests)


def requester() -> Worker:
    agent = Worker(name="jobs")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        kind = event.data["kind"]
        if kind.startswith("fail."):
            context.bus.request(kind, {}, "job.answered")
        else:
            context.bus.request("job.run", {"kind": kind}, "job.answered", timeout=30)
            context.bus.announce("job.started", {"kind": kind})

    @agent.on_result("job.answered")
    def answered(event: EventEnvelope, context: Any) -> None:
        pass

    return agent


def batch(agent: Any, *kinds: str) -> tuple[dict[str, Any], dict[str, str]]:
    bridge = InMemoryEventBridge(bus_name("test"), account="123456789012", region="us-east-1")
    queue = Queue.named("test", agent.name, FACTS, account="123456789012", region="us-east-1")
    for rule in rules_for(agent.manifest()):
        bridge.add_rule(rule, queue)
    envelopes = [
        EventEnvelope(source="soorma.tests", type="job.queued", topic=FACTS, data={"kind": kind})
        for kind in kinds
    ]
    events: list[OutgoingEvent] = [
        encode_event(e.to_wire(), CONF.max_event_bytes) for e in envelopes
    ]
    EventBridgePublisher(bridge.bus_name, sink=bridge).put(events)
    event = lambda_event([m.receive(0) for m in queue.messages], queue.arn, "us-east-1")
    ids = {kind: record["messageId"] for kind, record in zip(kinds, event["Records"], strict=True)}
    return event, ids


def flush(transport: LedgerTransport, *kinds: str) -> tuple[list[str], dict[str, str], Any]:
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(requester(), transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = batch(runtime.agent, *kinds)
    response = runtime.handle_batch(event, LambdaContextStub("soorma-test-jobs"))
    failed = sorted(f["itemIdentifier"] for f in response["batchItemFailures"])
    outcomes = {o.message_id: o for o in heard}
    assert len(heard) == len(kinds) == len(outcomes)  # one final outcome each
    return failed, ids, outcomes


def put_kinds(transport: LedgerTransport) -> list[str]:
    import json

    return sorted(json.loads(e["Detail"])["data"].get("kind", "") for e in transport.entries)


def test_a_request_refused_for_good_dead_letters_its_record_alone() -> None:
    transport = LedgerTransport()
    failed, ids, outcomes = flush(transport, "a", "fail.permanent", "b")
    assert failed == []
    assert [(m, type(e).__name__) for m, e in transport.dead] == [
        (ids["fail.permanent"], "InvalidEnvelopeError")
    ]
    assert outcomes[ids["fail.permanent"]].outcome == "dead-lettered"
    assert outcomes[ids["a"]].outcome == outcomes[ids["b"]].outcome == "handled"
    assert put_kinds(transport) == ["a", "a", "b", "b"]  # each request and its announcement
    assert len(transport.pending_requests.requests) == 2 and len(transport.deadlines.pending) == 2


def test_a_record_whose_requests_cannot_be_recorded_yet_is_retried_alone() -> None:
    transport = LedgerTransport()
    failed, ids, outcomes = flush(transport, "a", "fail.transient", "b")
    assert failed == [ids["fail.transient"]]
    error = outcomes[ids["fail.transient"]].error
    assert isinstance(error, PublishError) and "could not be recorded" in str(error)
    assert isinstance(error.__cause__, ConnectionError)
    assert transport.dead == []
    assert put_kinds(transport) == ["a", "a", "b", "b"]


def test_a_dead_letter_refused_at_the_flush_retries_the_record() -> None:
    transport = LedgerTransport(dlq_down=True)
    failed, ids, outcomes = flush(transport, "a", "fail.permanent")
    assert failed == [ids["fail.permanent"]]
    assert outcomes[ids["fail.permanent"]].outcome == "failed"
    assert outcomes[ids["a"]].outcome == "handled"
    assert put_kinds(transport) == ["a", "a"]
