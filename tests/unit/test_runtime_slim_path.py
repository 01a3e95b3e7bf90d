"""The slimmer per-event path keeps the runtime's behaviour: the batch loop answers Powertools'
partial batch response, the bus is built only when a handler touches it, and an event type is
checked for every publish even once its first check is remembered.

Batches are real shapes: envelopes put through the SDK's publisher into the in-memory EventBridge,
routed by the agent's own rules into its queue, received as SQS messages and turned into the
Lambda SQS event (`soorma_dev.sqs_events`).
"""

from __future__ import annotations

from typing import Any

import pytest

from soorma import Agent, BusClient, PlatformContext
from soorma.agent_spec import AgentSpec
from soorma.config import Settings
from soorma.publishing import EventBridgePublisher, encode_event
from soorma.runtime import LambdaRuntime, RecordOutcome
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import TransientError, UndeclaredEventError
from soorma_common.naming import bus_name
from soorma_common.routing import rules_for
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory import InMemoryEventBridge
from soorma_dev.inmemory.queues import Queue
from soorma_dev.sqs_events import lambda_event

FACTS = EventTopic.BUSINESS_FACTS
ACCOUNT, REGION = "123456789012", "us-east-1"
CONF = Settings.from_env({"SOORMA_STAGE": "test", "SOORMA_IDEMPOTENCY": "off"})


class Bridge:
    """The runtime's transport: PutEvents onto an in-memory bus, no claims."""

    claims = None

    def __init__(self) -> None:
        self.details: list[str] = []
        self.dead: list[Exception] = []

    def put_entries(self, entries: Any) -> dict[int, str]:
        self.details.extend(entry["Detail"] for entry in entries)
        return {}

    def dead_letter(self, record: Any, error: Exception) -> None:
        self.dead.append(error)


def delivered(agent: AgentSpec, *kinds: str) -> tuple[dict[str, Any], list[str]]:
    """The Lambda SQS event of one `job.queued` per kind, and the message ids in order."""
    bridge = InMemoryEventBridge(bus_name("test"), account=ACCOUNT, region=REGION)
    queue = Queue.named("test", agent.name, FACTS, account=ACCOUNT, region=REGION)
    for rule in rules_for(agent.manifest()):
        bridge.add_rule(rule, queue)
    EventBridgePublisher(bridge.bus_name, sink=bridge).put(
        [
            encode_event(
                EventEnvelope(
                    source="soorma.tests", type="job.queued", topic=FACTS, data={"kind": kind}
                ).to_wire(),
                CONF.max_event_bytes,
            )
            for kind in kinds
        ]
    )
    event = lambda_event([m.receive(0) for m in queue.messages], queue.arn, REGION)
    return event, [record["messageId"] for record in event["Records"]]


def jobs(seen: list[PlatformContext]) -> Agent:
    agent = Agent("jobs", events_produced=["job.done"])

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context: PlatformContext) -> None:
        seen.append(context)
        kind = event.data["kind"]
        if kind == "flaky":
            raise TransientError("database busy")
        if kind == "undeclared":
            context.bus.announce("job.lost", {"kind": kind})
        elif kind != "quiet":
            context.bus.announce("job.done", {"kind": kind})

    return agent


def handle(runtime: LambdaRuntime, event: dict[str, Any]) -> list[str]:
    response = runtime.handle_batch(event, LambdaContextStub("soorma-test-jobs"))
    assert set(response) == {"batchItemFailures"}
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_the_batch_loop_reports_the_failed_records_in_order_and_only_them() -> None:
    seen: list[PlatformContext] = []
    transport = Bridge()
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(jobs(seen), transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = delivered(runtime.agent, "flaky", "ok", "flaky", "quiet")

    assert handle(runtime, event) == [ids[0], ids[2]]
    assert [o.outcome for o in sorted(heard, key=lambda o: ids.index(o.message_id))] == [
        "failed",
        "handled",
        "failed",
        "handled",
    ]
    assert len(transport.details) == 1 and transport.dead == []  # the one event of "ok"


def test_a_batch_whose_every_record_fails_is_answered_not_raised() -> None:
    runtime = LambdaRuntime(jobs([]), transport=Bridge(), conf=CONF)
    event, ids = delivered(runtime.agent, "flaky", "flaky")

    assert handle(runtime, event) == ids


def test_an_empty_batch_has_no_failures_and_a_non_sqs_event_is_refused() -> None:
    runtime = LambdaRuntime(jobs([]), transport=Bridge(), conf=CONF)

    assert handle(runtime, {"Records": []}) == []
    with pytest.raises(ValueError, match="Invalid event format"):
        runtime.handle_batch({"detail": {}}, LambdaContextStub("soorma-test-jobs"))


def test_the_bus_is_built_only_for_a_handler_that_touches_it() -> None:
    seen: list[PlatformContext] = []
    transport = Bridge()
    runtime = LambdaRuntime(jobs(seen), transport=transport, conf=CONF)
    event, _ = delivered(runtime.agent, "quiet", "ok")

    assert handle(runtime, event) == []
    quiet, ok = seen
    assert quiet.built_bus is None
    assert ok.built_bus is ok.bus and ok.bus.handled is ok.event
    assert [EventEnvelope.from_json(d).type for d in transport.details] == ["job.done"]


def test_a_context_builds_its_bus_once_from_its_factory() -> None:
    agent = jobs([])
    event = EventEnvelope(source="soorma.tests", type="job.queued", topic=FACTS, data={})
    built: list[BusClient] = []

    def factory() -> BusClient:
        built.append(BusClient(agent.name, agent.source, handled=event))
        return built[-1]

    context = PlatformContext(agent, event, bus_factory=factory)
    assert context.built_bus is None and built == []
    assert context.bus is context.bus is built[0] is context.built_bus
    with pytest.raises(TypeError, match="bus or a bus_factory"):
        PlatformContext(agent, event)


def test_an_undeclared_event_type_is_refused_every_time_after_a_declared_one() -> None:
    transport = Bridge()
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(jobs([]), transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = delivered(runtime.agent, "ok", "undeclared", "ok", "undeclared")

    assert handle(runtime, event) == []
    outcomes = {o.message_id: o for o in heard}
    for refused in (ids[1], ids[3]):
        assert outcomes[refused].outcome == "dead-lettered"
        assert isinstance(outcomes[refused].error, UndeclaredEventError)
    assert len(transport.details) == 2
    assert [type(e) for e in transport.dead] == [UndeclaredEventError] * 2


def test_the_handled_scope_is_the_memory_packages_and_nests() -> None:
    from soorma.handled_scope import DEFAULT_USER, handling
    from soorma.memory.keys import OWNERLESS_USER
    from soorma.memory.scope import handled_scope

    assert DEFAULT_USER == OWNERLESS_USER
    assert handled_scope() is None
    with handling("acme", "u-1"):
        with pytest.raises(RuntimeError), handling("other", "u-2"):
            assert handled_scope() == ("other", "u-2")
            raise RuntimeError("the scope is restored on the way out")
        assert handled_scope() == ("acme", "u-1")
    assert handled_scope() is None


def test_a_client_of_ones_own_is_the_process_client_until_reset() -> None:
    from soorma import clients

    own = object()
    clients.use("events", own)
    try:
        assert clients.client("events") is own
    finally:
        clients.reset()
    assert clients.client("events") is not own


def test_a_batch_parsed_first_reports_each_unreadable_record_in_its_turn() -> None:
    """The loop parses the whole batch before it handles a record: a body that is no event is
    dead-lettered, a record its parser crashed on is retried, and neither changes what
    happens to the records around it or the order their outcomes are reported in."""
    transport = Bridge()
    heard: list[RecordOutcome] = []
    runtime = LambdaRuntime(jobs([]), transport=transport, on_outcome=heard.append, conf=CONF)
    event, ids = delivered(runtime.agent, "ok", "ok", "ok", "ok")
    event["Records"][1]["body"] = "not an event"
    event["Records"][2]["attributes"]["ApproximateReceiveCount"] = "many"

    assert handle(runtime, event) == [ids[2]]
    assert [(o.message_id, o.outcome) for o in heard] == [
        (ids[1], "dead-lettered"),
        (ids[2], "failed"),
        (ids[0], "handled"),
        (ids[3], "handled"),
    ]
    assert isinstance(heard[1].error, ValueError) and "many" in str(heard[1].error)
    assert len(transport.dead) == 1 and len(transport.details) == 2
