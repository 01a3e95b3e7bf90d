"""The examples, their agents unit-tested through the in-memory bus (the real runtime).

These are the stateless scenarios (no DynamoDB at all); every scenario, stateful ones included,
also runs in `tests/integration/test_examples_moto.py`. One test per scenario checks what its
`scenario.json` promises (exactly which agent handled which event, what was published, dead
letters), and that each workflow keeps one correlation id and a connected causation tree. The
tests after it check what each example is about.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from soorma_common import EventEnvelope
from soorma_dev.inmemory import InMemoryBus
from soorma_dev.scenarios import Observed, Scenario, collect, send_events, unmet_expectations

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = [
    "calculator-tool",
    "conditional-routing",
    "hello-world",
    "order-fanout",
    "poison-message",
    "sequential-chain",
]


def run_scenario(bus: InMemoryBus, scenario: Scenario) -> list[EventEnvelope]:
    sent = send_events(bus, scenario)
    bus.run_until_idle()
    return sent


def test_the_scenarios_exist() -> None:
    assert set(SCENARIOS) <= {p.parent.name for p in EXAMPLES.glob("*/scenario.json")}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_does_what_its_scenario_json_says(name: str, soorma_bus, monkeypatch) -> None:
    scenario = Scenario.load(EXAMPLES / name)
    expect = json.loads((EXAMPLES / name / "scenario.json").read_text())["expect"]
    bus = soorma_bus(scenario.agent_folders())
    sent = run_scenario(bus, scenario)

    assert Counter(bus.handled_pairs()) == Counter(map(tuple, expect["handled"]))
    assert Counter(e.type for e in bus.published) == Counter(expect["published"])
    assert len(bus.dead_letters()) == expect["dead_letters"]
    observed = Observed.of(collect(bus, sent), bus.agents)
    assert unmet_expectations(scenario.expect, observed) == []
    for envelope in sent:
        # one correlation id per workflow, and every event hangs from the event that was sent
        [root] = bus.trace(envelope.correlation_id)
        assert root.envelope.id == envelope.id
        assert len(root.walk()) == len(bus.events(envelope.correlation_id))
        assert {e.tenant_id for e in bus.events(envelope.correlation_id)} == {envelope.tenant_id}
    for envelope in bus.published:
        if envelope.reply_to is not None and envelope.topic == "action-results":
            handlers = {h.agent for h in bus.handlings() if h.event_id == envelope.id}
            assert handlers == {envelope.reply_to}  # a reply reaches only its requester


def test_hello_world_greeter_replies_to_the_requester(soorma_bus) -> None:
    bus = soorma_bus(EXAMPLES / "hello-world")
    run_scenario(bus, Scenario.load(EXAMPLES / "hello-world"))

    [request] = bus.handled("greeter")
    assert (request.type, request.response_event, request.reply_to) == (
        "greeting.compose",
        "greeting.composed",
        "greeting-requester",
    )
    [reply] = [e for e in bus.handled("greeting-requester") if e.type == "greeting.composed"]
    assert reply.data == {"greeting": "Hello, Ada!"}
    assert reply.causation_id == request.id
    greeted = bus.published[-1]
    assert (greeted.type, greeted.data, greeted.causation_id) == (
        "visitor.greeted",
        {"greeting": "Hello, Ada!"},
        reply.id,
    )


def test_order_fanout_gives_each_consumer_its_own_queue_and_inventory_goes_on(soorma_bus):
    bus = soorma_bus(EXAMPLES / "order-fanout")
    [order] = run_scenario(bus, Scenario.load(EXAMPLES / "order-fanout"))

    consumers = [h for h in bus.handlings() if h.event_id == order.id]
    assert sorted(h.agent for h in consumers) == ["audit-log", "inventory", "notifier"]
    assert len({h.message_id for h in consumers}) == 3  # three queues, three messages
    by_type = {e.type: e for e in bus.published}
    chain = ["order.placed", "stock.reserve", "stock.reserved", "inventory.reserved"]
    for parent, child in itertools.pairwise(chain):
        assert by_type[child].causation_id == by_type[parent].id
    assert by_type["stock.reserved"].data == {
        "order_id": "o-1",
        "reservation_id": "res-o-1",
        "units": 3,
    }
    assert by_type["customer.notified"].causation_id == order.id
    assert [e.type for e in bus.handled("audit-log")] == ["order.placed", "inventory.reserved"]


def test_sequential_chain_runs_its_steps_in_order(soorma_bus) -> None:
    bus = soorma_bus(EXAMPLES / "sequential-chain")
    [order] = run_scenario(bus, Scenario.load(EXAMPLES / "sequential-chain"))

    assert [a for a, _ in bus.handled_pairs()] == ["stock-reserver", "payments", "shipping"]
    events = bus.events(order.correlation_id)
    assert [e.type for e in events] == [
        "order.placed",
        "inventory.reserved",
        "payment.completed",
        "order.shipped",
    ]
    assert [e.causation_id for e in events[1:]] == [e.id for e in events[:-1]]
    assert events[-1].data == {"order_id": "o-7", "carrier": "post"}


def test_conditional_routing_sends_each_order_to_one_desk(soorma_bus) -> None:
    bus = soorma_bus(EXAMPLES / "conditional-routing")
    big, small = run_scenario(bus, Scenario.load(EXAMPLES / "conditional-routing"))

    assert [e.correlation_id for e in bus.handled("priority-desk")] == [big.correlation_id]
    assert [e.correlation_id for e in bus.handled("standard-desk")] == [small.correlation_id]
    assert [e.data["order_id"] for e in bus.handled("priority-desk")] == ["o-big"]


def test_conditional_routing_threshold_is_strictly_over_1000(soorma_bus) -> None:
    bus = soorma_bus(EXAMPLES / "conditional-routing")
    bus.send("order.placed", {"order_id": "edge", "total": 1000}, topic="business-facts")
    bus.run_until_idle()
    assert [e.type for e in bus.handled("standard-desk")] == ["order.standard.route"]
    assert bus.handled("priority-desk") == []


def test_calculator_answers_each_request_and_divide_by_zero_is_a_failure_reply(soorma_bus):
    bus = soorma_bus(EXAMPLES / "calculator-tool")
    run_scenario(bus, Scenario.load(EXAMPLES / "calculator-tool"))

    requests = {e.id: e.type for e in bus.handled("calculator")}
    answers = {
        requests[e.causation_id]: e.data
        for e in bus.handled("calc-client")
        if e.type == "math.answered"
    }
    assert answers == {
        "math.add": {"success": True, "result": 5},
        "math.multiply": {"success": True, "result": 20},
        "math.divide": {"success": False, "error": "cannot divide 1 by zero"},
    }
    recorded = [e.data for e in bus.published if e.type == "worksheet.answer.recorded"]
    assert {r["request_id"] for r in recorded} == set(requests)


def test_poison_message_is_dead_lettered_then_redriven_after_the_fix(soorma_bus, monkeypatch):
    monkeypatch.delenv("POISON_FIXED", raising=False)
    bus = soorma_bus(EXAMPLES / "poison-message")
    good, poison = run_scenario(bus, Scenario.load(EXAMPLES / "poison-message"))

    [letter] = bus.dead_letters("order-validator")
    assert letter.kind == "permanent-error"
    assert letter.envelope is not None and letter.envelope.id == poison.id
    assert "12,50" in (letter.reason or "")
    assert [h.receive_count for h in bus.handlings() if h.outcome == "dead-lettered"] == [1]
    assert [e.id for e in bus.handled("order-validator")] == [good.id]

    monkeypatch.setenv("POISON_FIXED", "1")
    assert bus.redrive("order-validator") == 1
    bus.run_until_idle()

    assert bus.dead_letters() == []
    validated = bus.published[-1]
    assert (validated.type, validated.data) == (
        "order.validated",
        {"order_id": "o-poison", "total": 12.5},
    )
    assert (validated.causation_id, validated.correlation_id) == (poison.id, poison.correlation_id)


def test_every_example_agent_is_in_a_folder_of_its_own_name() -> None:
    from soorma_dev.manifests import load_agent

    names = []
    for name in sorted(p.parent.name for p in EXAMPLES.glob("*/scenario.json")):
        for folder in Scenario.load(EXAMPLES / name).agent_folders():
            agent = load_agent(folder)
            assert agent.name == folder.name
            names.append(agent.name)
    assert len(names) == len(set(names)), "agent names are unique across the examples"
