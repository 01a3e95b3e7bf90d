"""The in-memory bus: routing, batches, retries, DLQ, redrive, exactly-once, recording.

Each test builds small agents with the public SDK and drives them through `InMemoryBus`, which
calls `agent.lambda_handler` (the real runtime) with SQS/EventBridge-shaped events.
"""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel

from soorma import Agent, Tool, Worker
from soorma_common import DomainError, EventEnvelope, EventTopic, PermanentError, TransientError
from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.errors import ClaimInProgressError
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory import (
    InMemoryBus,
    InMemoryClaimStore,
    InMemoryTransport,
    PutEventsValidationError,
    walk,
)

FACTS = EventTopic.BUSINESS_FACTS


def listener(name: str, event_type: str, topic: EventTopic = FACTS) -> Agent:
    agent = Agent(name=name)

    @agent.on_event(event_type, topic=topic)
    def handle(event: EventEnvelope, context) -> None:
        pass

    return agent


def test_fan_out_gives_each_subscriber_its_own_copy(soorma_bus) -> None:
    bus = soorma_bus(
        listener("inventory", "order.placed"),
        listener("notifier", "order.placed"),
        listener("other-topic", "order.placed", EventTopic.BILLING_EVENTS),
    )
    sent = bus.send("order.placed", {"order_id": "o-1"}, topic=FACTS, tenant_id="acme")
    bus.run_until_idle()

    assert sorted(bus.handled_pairs()) == [
        ("inventory", "order.placed"),
        ("notifier", "order.placed"),
    ]
    assert [e.id for e in bus.handled("inventory")] == [sent.id]
    assert {h.message_id for h in bus.handlings() if h.agent == "inventory"}.isdisjoint(
        {h.message_id for h in bus.handlings() if h.agent == "notifier"}
    )


def test_prefix_and_wildcard_subscriptions_route_like_their_rules(soorma_bus) -> None:
    bus = soorma_bus(listener("research", "research.*"), listener("everything", "*"))
    for event_type in ("research.started", "research.done.late", "researcher.hired"):
        bus.send(event_type, {}, topic=FACTS)
    bus.run_until_idle()

    assert [e.type for e in bus.handled("research")] == ["research.started", "research.done.late"]
    assert len(bus.handled("everything")) == 3


def test_a_reply_reaches_only_the_agent_that_asked(soorma_bus) -> None:
    calc = Tool(name="calc")

    @calc.on_invoke("math.add")
    def add(event: EventEnvelope, context) -> dict:
        return {"sum": event.data["a"] + event.data["b"]}

    def requester(name: str) -> Worker:
        worker = Worker(name=name)

        @worker.on_event("sum.wanted", topic=FACTS)
        def wanted(event: EventEnvelope, context) -> None:
            context.bus.request("math.add", event.data, response_event="math.added")

        @worker.on_result("math.added")
        def added(event: EventEnvelope, context) -> None:
            pass

        return worker

    bus = soorma_bus(calc, requester("alice"), requester("bob"))
    bus.send("sum.wanted", {"a": 1, "b": 2}, topic=FACTS)
    bus.run_until_idle()

    requests = {e.reply_to: e for e in bus.published if e.type == "math.add"}
    for name in ("alice", "bob"):
        replies = [e for e in bus.handled(name) if e.type == "math.added"]
        assert len(replies) == 1
        assert replies[0].reply_to == name
        assert replies[0].causation_id == requests[name].id
        assert replies[0].data == {"sum": 3}


def test_only_the_failed_record_of_a_batch_is_retried(soorma_bus) -> None:
    attempts: dict[str, int] = {}
    agent = Agent(name="flaky")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        attempts[event.data["n"]] = attempts.get(event.data["n"], 0) + 1
        if event.data["n"] == "bad" and attempts["bad"] < 3:
            raise TransientError("database busy")

    bus = soorma_bus(agent)
    bus.put(
        *(
            EventEnvelope(source="soorma.tests", type="job.queued", topic=FACTS, data={"n": n})
            for n in ("a", "bad", "c")
        )
    )
    bus.run_until_idle()

    assert attempts == {"a": 1, "bad": 3, "c": 1}
    first_batch = bus.invocations[0][2]
    assert first_batch is not None and len(first_batch["batchItemFailures"]) == 1
    [bad_id] = [e.id for e in bus.published if e.data == {"n": "bad"}]
    bad = [h for h in bus.handlings() if h.event_id == bad_id]
    assert [(h.outcome, h.receive_count) for h in bad] == [
        ("failed", 1),
        ("failed", 2),
        ("handled", 3),
    ]
    assert bus.dead_letters() == []


def test_a_record_failing_every_time_is_redriven_to_the_dlq_after_max_receives(soorma_bus) -> None:
    agent = Agent(name="broken")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        raise TransientError("downstream unavailable")

    bus = soorma_bus(agent)
    sent = bus.send("job.queued", {}, topic=FACTS)
    bus.run_until_idle()

    outcomes = [(h.outcome, h.receive_count) for h in bus.handlings()]
    assert outcomes == [("failed", n) for n in range(1, MAX_RECEIVE_COUNT + 1)] + [
        ("dead-lettered", MAX_RECEIVE_COUNT)  # moved by SQS after its last failed receive
    ]
    [letter] = bus.dead_letters("broken")
    assert letter.kind == "redrive-after-max-receives"
    # the last error, not "moved after 5 receives"
    assert letter.reason == bus.handlings()[-1].reason == "TransientError: downstream unavailable"
    assert letter.envelope is not None and letter.envelope.id == sent.id
    assert letter.queue == "soorma-test-broken-business-facts"


def test_a_handler_calling_sys_exit_fails_its_record_not_the_test_run(soorma_bus) -> None:
    """On Lambda a handler's `sys.exit` ends the invocation (Runtime.ExitError): every record of
    the batch comes back; under the in-memory bus it must not end the whole test run."""
    agent = Agent(name="quitter")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        raise SystemExit(3)

    bus = soorma_bus(agent)
    bus.send("job.queued", {}, topic=FACTS)
    bus.run_until_idle()

    first = bus.handlings()[0]
    assert (first.outcome, first.receive_count) == ("failed", 1)
    assert "SystemExit" in (first.reason or "")
    # The exit left the record's claim in progress (as on Lambda, until the invocation's time
    # is up); the in-memory bus retries at once, so the record ends in the DLQ, not the run.
    assert bus.handlings()[-1].outcome == "dead-lettered"


def test_a_permanent_error_goes_to_the_dlq_at_once_and_redrive_replays_it(soorma_bus) -> None:
    fixed = {"on": False}
    agent = Agent(name="validator")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        if event.data.get("total") is None and not fixed["on"]:
            raise PermanentError("order has no total")
        context.bus.announce("order.validated", event.data)

    bus = soorma_bus(agent)
    bus.send("order.placed", {"order_id": "good", "total": 1}, topic=FACTS)
    poison = bus.send("order.placed", {"order_id": "poison"}, topic=FACTS)
    bus.run_until_idle()

    [letter] = bus.dead_letters()
    assert (letter.kind, letter.reason) == ("permanent-error", "PermanentError: order has no total")
    assert letter.envelope is not None and letter.envelope.id == poison.id
    assert [h.outcome for h in bus.handlings()] == ["handled", "dead-lettered"]
    assert len(bus.invocations) == 1  # no retry was spent

    fixed["on"] = True
    assert bus.redrive("validator") == 1
    bus.run_until_idle()
    assert bus.dead_letters() == []
    validated = [e for e in bus.published if e.type == "order.validated"]
    assert [e.data["order_id"] for e in validated] == ["good", "poison"]
    assert validated[-1].causation_id == poison.id


def test_a_forged_source_is_dead_lettered_while_an_honest_one_is_handled(soorma_bus) -> None:
    bus = soorma_bus(listener("picky", "order.placed"))
    bus.send("order.placed", {}, topic=FACTS, source="soorma.honest")
    # An agent may only publish as itself: an envelope claiming another source is permanent.
    forged = EventEnvelope(source="soorma.picky", type="order.placed", topic=FACTS)
    bus.put_events(
        Entries=[
            {
                "Source": "soorma.someone",
                "DetailType": "order.placed",
                "Detail": forged.to_json(),
                "EventBusName": bus.bus_name,
            }
        ]
    )
    bus.run_until_idle()

    [letter] = bus.dead_letters("picky")
    assert "claims source" in (letter.reason or "")
    assert [e.source for e in bus.handled("picky")] == ["soorma.honest"]


def test_publishing_25_events_takes_three_put_events_calls(soorma_bus) -> None:
    agent = Agent(name="chatty")

    @agent.on_event("burst.requested", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        for i in range(25):
            context.bus.publish(EventTopic.SYSTEM_EVENTS, "burst.item", {"i": i})

    bus = soorma_bus(agent)
    bus.send("burst.requested", {}, topic=FACTS)
    bus.run_until_idle()

    assert [len(call) for call in bus.put_calls] == [1, 10, 10, 5]
    assert [e.data["i"] for e in bus.published[1:]] == list(range(25))


def test_put_events_rejects_more_than_ten_entries(soorma_bus) -> None:
    bus = soorma_bus(listener("quiet", "x.y"))
    entry = {
        "Source": "soorma.tests",
        "DetailType": "x.y",
        "EventBusName": bus.bus_name,
        "Detail": EventEnvelope(source="soorma.tests", type="x.y", topic=FACTS).to_json(),
    }
    with pytest.raises(PutEventsValidationError, match="1 to 10 entries"):
        bus.put_events(Entries=[entry] * 11)


def test_failed_put_events_entries_are_retried_and_delivered_once(soorma_bus) -> None:
    relay = Agent(name="relay")

    @relay.on_event("ping.sent", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        context.bus.announce("pong.sent", {})

    bus = soorma_bus(relay, listener("sink", "pong.sent"))
    bus.send("ping.sent", {}, topic=FACTS)
    bus.fail_next_entries(1)  # the relay's first PutEvents entry fails
    bus.run_until_idle()

    assert [len(call) for call in bus.put_calls] == [1, 1, 1]
    assert [e.type for e in bus.handled("sink")] == ["pong.sent"]


def counting_agent(runs: list[str]) -> Agent:
    """An agent that notes each run and announces `order.counted` once per handled order."""
    agent = Agent(name="once")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        runs.append(event.id)
        context.bus.announce("order.counted", {})

    return agent


def test_a_duplicate_delivery_runs_the_handler_once_and_republishes_the_same_ids(soorma_bus):
    runs: list[str] = []
    bus = soorma_bus(counting_agent(runs))
    sent = bus.send("order.placed", {}, topic=FACTS)
    bus.run_until_idle()
    bus.put(sent)  # EventBridge and SQS deliver at least once: the same envelope again, later
    bus.run_until_idle()

    assert runs == [sent.id]
    counted = [e for e in bus.published if e.type == "order.counted"]
    assert len(counted) == 2 and counted[0].id == counted[1].id


def test_a_duplicate_delivery_in_the_same_batch_publishes_its_events_once(soorma_bus) -> None:
    runs: list[str] = []
    bus = soorma_bus(counting_agent(runs))
    sent = bus.send("order.placed", {}, topic=FACTS)
    bus.put(sent)
    bus.run_until_idle()

    assert runs == [sent.id]
    # The second record re-sends the first's stored event (same id, same bytes): put once.
    assert len([e for e in bus.published if e.type == "order.counted"]) == 1


def test_without_idempotency_a_duplicate_runs_the_handler_twice(soorma_bus) -> None:
    runs: list[str] = []
    agent = Agent(name="twice")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        runs.append(event.id)

    bus = soorma_bus(agent, idempotency=False)
    sent = bus.send("order.placed", {}, topic=FACTS)
    bus.put(sent)
    bus.run_until_idle()

    assert runs == [sent.id, sent.id]


def test_domain_error_in_a_tool_replies_failure_instead_of_dead_lettering(soorma_bus) -> None:
    tool = Tool(name="divider")

    @tool.on_invoke("math.divide")
    def divide(event: EventEnvelope, context) -> dict:
        raise DomainError("cannot divide by zero")

    # Replies reach reply handlers (`on_result`), never plain subscriptions (issue 10).
    asker = Worker(name="asker")
    asker.on_result()(lambda event, context: None)
    bus = soorma_bus(tool, asker)
    bus.send(
        "math.divide",
        {"a": 1, "b": 0},
        topic=EventTopic.ACTION_REQUESTS,
        response_event="math.divided",
        reply_to="asker",
    )
    bus.run_until_idle()

    [reply] = bus.handled("asker")
    assert reply.data == {"success": False, "error": "cannot divide by zero"}
    assert bus.dead_letters() == []


def test_agents_receive_real_sqs_and_eventbridge_shapes(soorma_bus) -> None:
    seen: list[object] = []
    agent = Agent(name="shape-check")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        seen.append(context.lambda_context.function_name)

    bus = soorma_bus(agent)
    sent = bus.send("order.placed", {"x": 1}, topic=FACTS, tenant_id="acme")
    bus.run_until_idle()

    [(agent_name, event, response)] = bus.invocations
    sqs = SqsModel.model_validate(event)  # Powertools' own models of AWS's payloads
    record = sqs.Records[0]
    assert record.eventSourceARN.endswith(":soorma-test-shape-check-business-facts")
    assert record.attributes.ApproximateReceiveCount == "1"
    bridge = EventBridgeModel.model_validate(json.loads(record.body))
    assert bridge.source == "soorma.tests" and bridge.detail_type == "order.placed"
    assert EventEnvelope.from_wire(bridge.detail) == sent
    assert response == {"batchItemFailures": []}
    assert seen == ["soorma-test-shape-check"] and agent_name == "shape-check"


def test_trace_builds_the_causation_tree_of_one_correlation_id(soorma_bus) -> None:
    first = Agent(name="first")
    second = Agent(name="second")

    @first.on_event("a.happened", topic=FACTS)
    def on_a(event: EventEnvelope, context) -> None:
        context.bus.announce("b.happened", {})
        context.bus.announce("c.happened", {})

    @second.on_event("b.happened", topic=FACTS)
    def on_b(event: EventEnvelope, context) -> None:
        context.bus.announce("d.happened", {})

    bus = soorma_bus(first, second)
    root = bus.send("a.happened", {}, topic=FACTS)
    bus.send("a.happened", {}, topic=FACTS)  # another workflow, another correlation id
    bus.run_until_idle()

    [tree] = bus.trace(root.correlation_id)
    assert tree.envelope.id == root.id
    assert [h.agent for h in tree.handled] == ["first"]
    assert [c.envelope.type for c in tree.children] == ["b.happened", "c.happened"]
    assert [n.envelope.type for n in walk([tree])] == [
        "a.happened",
        "b.happened",
        "d.happened",
        "c.happened",
    ]
    assert len(bus.events(root.correlation_id)) == 4


def test_close_gives_agents_back_their_default_runtime() -> None:
    agent = listener("restored", "x.happened")
    with InMemoryBus([agent]) as bus:
        assert isinstance(agent.runtime.transport, InMemoryTransport)
        assert agent.runtime.transport.eventbridge is bus.eventbridge
        memory_runtime = agent.runtime
    assert agent._runtime is None and memory_runtime is not None


def test_in_memory_claims_behave_like_the_dynamodb_ones() -> None:
    store = InMemoryClaimStore()
    store.register_lambda_context(LambdaContextStub("soorma-test-agent"))
    outgoing = [{"id": "e-1"}]

    def work_that_is_reentered() -> list[dict[str, str]]:
        # a second invocation claiming the same key while the first holds it
        with pytest.raises(ClaimInProgressError, match="held by another invocation"):
            store.run_once("agent#event", list)
        return outgoing

    assert store.run_once("agent#event", work_that_is_reentered) == outgoing
    assert store.run_once("agent#event", lambda: [{"id": "other"}]) == outgoing  # stored result
    assert store.run_once("agent#another", list) == []


def test_a_failed_claim_is_released_so_a_retry_runs_again() -> None:
    store = InMemoryClaimStore()
    store.register_lambda_context(LambdaContextStub("soorma-test-agent"))

    def failing() -> list[dict[str, str]]:
        raise TransientError("boom")

    with pytest.raises(TransientError):
        store.run_once("agent#event", failing)
    assert store.run_once("agent#event", lambda: [{"id": "e-2"}]) == [{"id": "e-2"}]


def test_a_record_whose_events_cannot_be_put_is_retried_without_running_its_handler(
    soorma_bus,
) -> None:
    runs: list[str] = []
    relay = Agent(name="relay")

    @relay.on_event("ping.sent", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        runs.append(event.id)
        context.bus.announce("pong.sent", {})

    bus = soorma_bus(relay, listener("sink", "pong.sent"))
    sent = bus.send("ping.sent", {}, topic=FACTS)
    bus.fail_next_entries(4)  # every attempt of the first flush (SOORMA_PUBLISH_MAX_ATTEMPTS)
    bus.run_until_idle()

    relayed = [h for h in bus.handlings() if h.agent == "relay"]
    assert [(h.outcome, h.receive_count) for h in relayed] == [("failed", 1), ("handled", 2)]
    assert "PutEvents failed" in (relayed[0].reason or "")
    assert "InternalFailure" in (relayed[0].reason or "")
    assert runs == [sent.id]  # the redelivery re-put the stored event
    assert [e.type for e in bus.handled("sink")] == ["pong.sent"]


def test_a_failed_handling_carries_the_handlers_error(soorma_bus) -> None:
    agent = Agent(name="moody")

    @agent.on_event("job.queued", topic=FACTS)
    def handle(event: EventEnvelope, context) -> None:
        raise TransientError("database busy")

    bus = soorma_bus(agent, max_receive_count=1)
    bus.send("job.queued", {}, topic=FACTS)
    bus.run_until_idle()

    [handling, moved] = bus.handlings()
    assert (handling.outcome, handling.reason) == ("failed", "TransientError: database busy")
    assert (moved.outcome, moved.reason) == ("dead-lettered", "TransientError: database busy")
    [letter] = bus.dead_letters()
    assert letter.kind == "redrive-after-max-receives"
