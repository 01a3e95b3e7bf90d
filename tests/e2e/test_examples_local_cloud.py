"""Every example in examples/ runs through the local cloud and its trace is what the example says.

For each scenario folder: start a local cloud (moto's server, one worker process per agent, the
event log) with its agents, send `scenario.json`'s events, wait until idle, and read the traces
back from the event log. Generic checks come from scenario.json (who handled what, what was
published, dead letters) plus the invariants of every trace (one correlation id, causation ids
linking each event to the event its publisher was handling, in time order); each example then
has checks of its own (`SPECIFIC`), and a test makes sure no example is left without them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from soorma_common.naming import agent_of_source
from soorma_common.topics import EventTopic
from soorma_dev.rendering import walk
from soorma_dev.scenarios import (
    Observed,
    Scenario,
    ScenarioRun,
    collect,
    is_scenario,
    send_events,
    unmet_expectations,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = sorted(p.name for p in EXAMPLES.iterdir() if is_scenario(p))

#: 180 s (6 x the 30 s function timeout) x 1/180 = 1 s visibility timeouts: retries are quick.
TIME_SCALE = 1 / 180
IDLE_TIMEOUT = 60.0


def run_scenario(cloud: Any, scenario: Scenario) -> ScenarioRun:
    """Send the scenario's events, wait until the cloud is idle, read the traces back."""
    sent = send_events(cloud, scenario)
    cloud.wait_until_idle(timeout=IDLE_TIMEOUT)
    return collect(cloud, sent)


def agents_of(scenario: Scenario) -> set[str]:
    return {folder.name for folder in scenario.agent_folders()}


def nodes(run: ScenarioRun) -> list[Any]:
    return [node for roots in run.traces.values() for node in walk(roots)]


def the(run: ScenarioRun, event_type: str, **data: Any) -> Any:
    """The one trace node of `event_type` (whose data has the given items)."""
    found = [
        node
        for node in nodes(run)
        if node.envelope.type == event_type
        and all(node.envelope.data.get(k) == v for k, v in data.items())
    ]
    assert len(found) == 1, f"{len(found)} {event_type} events with {data} in the traces"
    return found[0]


def handlers(node: Any, outcome: str = "handled") -> list[str]:
    return sorted(h.agent for h in node.handled if h.outcome == outcome)


def children(node: Any) -> dict[str, Any]:
    by_type = {child.envelope.type: child for child in node.children}
    assert len(by_type) == len(node.children), "two children of the same type"
    return by_type


def assert_trace_invariants(run: ScenarioRun) -> None:
    """One correlation id per workflow, roots = the events sent, each child caused by its parent
    while the child's publisher handled the parent, tenant and user carried over."""
    sent_by_correlation: dict[str, set[str]] = {}
    for envelope in run.sent:
        sent_by_correlation.setdefault(envelope.correlation_id, set()).add(envelope.id)
    for correlation_id, roots in run.traces.items():
        assert {root.envelope.id for root in roots} == sent_by_correlation[correlation_id]
        for root in roots:
            assert root.envelope.causation_id is None
        for parent in walk(roots):
            assert parent.envelope.correlation_id == correlation_id
            for child in parent.children:
                _assert_caused_by(child, parent)


def _assert_caused_by(child: Any, parent: Any) -> None:
    """`child` was published by an agent handling `parent`, after `parent` was made, and handled
    after it was made. (Handling times are when a batch finished, so a reply can be handled
    before the batch of its request is reported done: envelope times order the tree.)"""
    event, cause = child.envelope, parent.envelope
    assert event.causation_id == cause.id
    assert (event.tenant_id, event.user_id) == (cause.tenant_id, cause.user_id)
    publisher = agent_of_source(event.source)
    assert publisher in handlers(parent), (
        f"{event.type} was published by {publisher}, which did not handle {cause.type}"
    )
    assert event.time >= cause.time, f"{event.type} is older than its cause {cause.type}"
    for handling in child.handled:
        assert at(handling.time) >= event.time, f"{handling.agent} handled {event.type} early"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# ---- the generic test, for every example -------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_example_runs_as_its_scenario_says(
    name: str, soorma_local_cloud: Callable[..., Any]
) -> None:
    scenario = Scenario.load(EXAMPLES / name)
    cloud = soorma_local_cloud(scenario.folder, time_scale=TIME_SCALE, env=scenario.env)
    run = run_scenario(cloud, scenario)

    assert unmet_expectations(scenario.expect, Observed.of(run, agents_of(scenario))) == []
    assert_trace_invariants(run)
    SPECIFIC[name](cloud, scenario, run)


def test_every_example_has_its_own_checks() -> None:
    assert SCENARIOS, f"no scenario under {EXAMPLES}"
    assert sorted(SPECIFIC) == SCENARIOS


# ---- what each example must show -------------------------------------------------------------


def check_hello_world(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """Request -> response: the reply, typed by the request's `response_event`, reaches only
    the requester, and its causation id is the request's id."""
    arrived = the(run, "visitor.arrived")
    assert handlers(arrived) == ["greeting-requester"]
    request = children(arrived)["greeting.compose"]
    assert request.envelope.topic == EventTopic.ACTION_REQUESTS
    assert request.envelope.response_event == "greeting.composed"
    assert request.envelope.reply_to == "greeting-requester"
    assert handlers(request) == ["greeter"]
    reply = children(request)["greeting.composed"]
    assert reply.envelope.topic == EventTopic.ACTION_RESULTS
    assert reply.envelope.source == "soorma.greeter"
    assert reply.envelope.causation_id == request.envelope.id
    assert handlers(reply) == ["greeting-requester"]
    greeted = children(reply)["visitor.greeted"]
    assert greeted.envelope.data == {"greeting": "Hello, Ada!"}


def check_order_fanout(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """Fan-out: each consumer gets `order.placed` once, through a queue of its own."""
    placed = the(run, "order.placed")
    assert handlers(placed) == ["audit-log", "inventory", "notifier"]
    queues = {
        agent: cloud.platform.agents[agent].queues[EventTopic.BUSINESS_FACTS][0]
        for agent in ("audit-log", "inventory", "notifier")
    }
    assert len(set(queues.values())) == 3, queues
    assert sorted(children(placed)) == ["customer.notified", "stock.reserve"]
    reserve = children(placed)["stock.reserve"]
    assert handlers(reserve) == ["warehouse"]
    reserved = children(reserve)["stock.reserved"]
    assert reserved.envelope.reply_to == "inventory"
    assert handlers(reserved) == ["inventory"]
    announced = children(reserved)["inventory.reserved"]
    assert announced.envelope.data["units"] == 3
    assert handlers(announced) == ["audit-log"]
    assert handlers(children(placed)["customer.notified"]) == []


def check_sequential_chain(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """A chain: each step is caused by the previous one and handled after it, by one agent."""
    (roots,) = run.traces.values()
    (node,) = roots
    steps = []
    while True:
        steps.append((node.envelope.type, handlers(node), node.envelope.time))
        if not node.children:
            break
        (node,) = node.children
    assert [(t, h) for t, h, _ in steps] == [
        ("order.placed", ["stock-reserver"]),
        ("inventory.reserved", ["payments"]),
        ("payment.completed", ["shipping"]),
        ("order.shipped", []),
    ]
    times = [t for _, _, t in steps]
    assert times == sorted(times)
    assert node.envelope.data == {"order_id": "o-7", "carrier": "post"}


def check_conditional_routing(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """Event patterns: each route reaches only the desk whose rule matches its type."""
    assert len(run.traces) == 2  # one workflow per order
    big = the(run, "order.placed", order_id="o-big")
    small = the(run, "order.placed", order_id="o-small")
    (big_route,) = big.children
    (small_route,) = small.children
    assert big_route.envelope.type == "order.priority.route"
    assert small_route.envelope.type == "order.standard.route"
    assert handlers(big_route) == ["priority-desk"]
    assert handlers(small_route) == ["standard-desk"]
    assert [c.envelope.type for c in big_route.children] == ["order.expedited"]
    assert [c.envelope.type for c in small_route.children] == ["order.queued"]
    assert big.envelope.correlation_id != small.envelope.correlation_id


def check_calculator_tool(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """A Tool: every request gets one reply addressed to the caller, caused by that request; a
    domain error (divide by zero) is a failure reply, not a dead letter."""
    submitted = the(run, "worksheet.submitted")
    requests = {child.envelope.type: child for child in submitted.children}
    assert sorted(requests) == ["math.add", "math.divide", "math.multiply"]
    answers = {}
    for event_type, request in requests.items():
        assert handlers(request) == ["calculator"]
        (reply,) = request.children
        assert reply.envelope.type == "math.answered"
        assert reply.envelope.reply_to == "calc-client"
        assert reply.envelope.causation_id == request.envelope.id
        assert handlers(reply) == ["calc-client"]
        assert [c.envelope.type for c in reply.children] == ["worksheet.answer.recorded"]
        answers[event_type] = reply.envelope.data
    assert answers["math.add"] == {"success": True, "result": 5}
    assert answers["math.multiply"] == {"success": True, "result": 20}
    assert answers["math.divide"]["success"] is False
    assert "cannot divide 1 by zero" in str(answers["math.divide"]["error"])
    assert cloud.dead_letters() == []


def check_poison_message(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """A poison message goes to the DLQ at once (no retry), the good one is handled; after the
    fix, the dead letter is redriven to its source queue and handled under its own trace."""
    good = the(run, "order.placed", order_id="o-good")
    poison = the(run, "order.placed", order_id="o-poison")
    assert [c.envelope.type for c in good.children] == ["order.validated"]
    assert [h.outcome for h in poison.handled] == ["dead-lettered"]  # no retry before the DLQ
    assert "UnreadableOrderError" in (poison.handled[0].reason or "")
    (letter,) = cloud.dead_letters(agent="order-validator")
    assert letter.kind == "permanent-error"
    assert letter.topic == EventTopic.BUSINESS_FACTS.value
    assert letter.envelope is not None and letter.envelope.id == poison.envelope.id

    after = scenario.after_fix
    assert after is not None
    before = Observed.of(run, agents_of(scenario))
    restart_agent(cloud, "order-validator", after.env)
    assert cloud.redrive(**after.redrive) == 1
    cloud.wait_until_idle(timeout=IDLE_TIMEOUT)
    fixed = collect(cloud, run.sent)

    assert unmet_expectations(after, Observed.of(fixed, agents_of(scenario)) - before) == []
    assert_trace_invariants(fixed)
    redriven = the(fixed, "order.placed", order_id="o-poison")
    assert handlers(redriven) == ["order-validator"]
    (validated,) = redriven.children
    assert validated.envelope.data == {"order_id": "o-poison", "total": 12.5}


def check_order_fulfilment(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """A planner: the goal's two delegated requests run in parallel, both replies are gathered
    (fan-in) before the plan completes, and the planner answers the storefront once."""
    goal = the(run, "order.fulfil")
    assert goal.envelope.reply_to == "storefront"
    assert handlers(goal) == ["fulfilment-planner"]
    started = children(goal)
    assert {"plan.started", "inventory.reserve", "payment.charge"} <= set(started)
    replies = [
        children(started["inventory.reserve"])["inventory.reserved"],
        children(started["payment.charge"])["payment.charged"],
    ]
    for reply in replies:
        assert reply.envelope.reply_to == "fulfilment-planner"
        assert handlers(reply) == ["fulfilment-planner"]
    answer = children(goal)["order.fulfilled"]  # a reply is caused by its request
    assert answer.envelope.reply_to == "storefront"
    assert handlers(answer) == ["storefront"]
    assert answer.envelope.data["success"] is True
    assert answer.envelope.data["outcome"] == "fulfilled"
    assert answer.envelope.time >= max(r.envelope.time for r in replies)  # after the fan-in
    # Fan-in exactly once: whichever reply the planner handled second completes the plan.
    (completing,) = [reply for reply in replies if reply.children]
    assert sorted(children(completing)) == ["plan.completed", "plan.state_changed"]


def check_research_advisor(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """Autonomous choreography with its rails, one goal per misbehaviour of the scripted model:
    nothing unregistered or invalid is published, a vague result is replaced, the persisted
    caps stop a loop and a budget, and every goal's requester gets exactly one answer."""
    draft = "Tides follow the Moon: its pull raises two bulges of water that the Earth turns under."
    for goal in run.sent:
        case = goal.data["case"]
        events = [n.envelope for n in walk(run.traces[goal.correlation_id])]

        def of(event_type: str, events: list[Any] = events) -> list[Any]:
            return [e for e in events if e.type == event_type]

        [answer] = of("advice.given")
        assert (answer.reply_to, answer.causation_id is not None) == ("client", True), case
        assert of("web.search.requested") == [], case  # the hallucinated event: never published
        assert all(set(e.data) == {"topic"} for e in of("research.requested")), case
        decisions = of("plan.decision")
        assert all(d.data["input_tokens"] > 0 for d in decisions), case
        billed = sum(b.data["total_tokens"] for b in of("llm.tokens_used"))
        assert billed >= sum(d.data["input_tokens"] for d in decisions), case
        if case in ("normal", "hallucinated", "invalid", "vague"):
            assert answer.data["status"] == "completed" and answer.data["result"] == draft, case
            assert [len(of(t)) for t in ("research.requested", "draft.requested")] == [1, 1]
            assert len(of("validation.requested")) == 1, case
        if case in ("hallucinated", "invalid"):
            assert decisions[0].data["repairs"] == 1, case
        if case == "vague":
            assert answer.data["reason"] == "vague result replaced"
        if case in ("runaway", "budget"):
            [tripped] = of("plan.circuit_breaker_tripped")
            assert tripped.topic == EventTopic.SYSTEM_EVENTS
            limit = "max_actions" if case == "runaway" else "token_budget"
            assert tripped.data["limit"] == limit and limit in answer.data["reason"], case
            assert len(of("research.requested")) == (4 if case == "runaway" else 0), case


def check_ticket_router(cloud: Any, scenario: Scenario, run: ScenarioRun) -> None:
    """The event selector: each ticket goes to the one desk its words call for, with a payload
    the desk's schema accepts, and the decision's tokens are billed to the tenant."""
    desks = {"t-1": "billing-desk", "t-2": "tech-support", "t-3": "escalations"}
    for ticket in run.sent:
        opened = the(run, "ticket.opened", ticket_id=ticket.data["ticket_id"])
        routed = children(opened)
        [billing] = [routed.pop("llm.tokens_used")]
        assert billing.envelope.data["tenant_id"] == "acme"
        assert billing.envelope.data["model_calls"] == 1
        [(event_type, request)] = routed.items()
        assert set(request.envelope.data) == {"ticket_id", "summary"}
        desk = desks[ticket.data["ticket_id"]]
        assert handlers(request) == [desk], event_type
        taken = children(request)["ticket.taken"]
        assert taken.envelope.data == {"ticket_id": ticket.data["ticket_id"], "desk": desk}


SPECIFIC: dict[str, Callable[[Any, Scenario, ScenarioRun], None]] = {
    "ticket-router": check_ticket_router,
    "research-advisor": check_research_advisor,
    "order-fulfilment": check_order_fulfilment,
    "hello-world": check_hello_world,
    "order-fanout": check_order_fanout,
    "sequential-chain": check_sequential_chain,
    "conditional-routing": check_conditional_routing,
    "calculator-tool": check_calculator_tool,
    "poison-message": check_poison_message,
}


def restart_agent(cloud: Any, agent: str, env: dict[str, str]) -> None:
    """Restart an agent's worker processes with extra environment (the fix is deployed)."""
    restart = getattr(cloud, "restart_agent", None)
    if restart is not None:
        restart(agent, env=env)
        return
    deadline = time.monotonic() + 60
    workers = [w for w in cloud.workers if w.spec.agent == agent]
    assert workers, f"no worker for {agent}"
    for worker in workers:
        worker.stop()
        worker.env = {**worker.env, **env}
        worker.ready.clear()
        worker.start()
    for worker in workers:
        worker.wait_ready(deadline)
