"""Every example through moto (`MotoHarness`, via the `soorma_moto` fixture): real PutEvents,
real rules, real SQS queues and DLQs, the DynamoDB tables, batches received from the queues and
passed to each agent's `lambda_handler`. And every example through the in-memory bus with its
state tables on moto (`soorma_bus` + `soorma_tables`), for agents that keep state."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness, record_put_events
from soorma_dev.scenarios import Observed, Scenario, collect, send_events, unmet_expectations

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL_SCENARIOS = sorted(p.parent.name for p in EXAMPLES.glob("*/scenario.json"))
FACTS = EventTopic.BUSINESS_FACTS


def run(
    harness: MotoHarness, scenario: Scenario
) -> tuple[list[EventEnvelope], list[EventEnvelope]]:
    """Send the scenario's events and pump until idle; return (sent, every envelope put)."""
    with record_put_events() as calls:
        sent = [
            harness.send(
                e.event_type,
                e.data,
                topic=e.topic,
                source="soorma.cli",
                tenant_id=e.tenant_id,
                user_id=e.user_id,
                **e.envelope_attributes(),
            )
            for e in scenario.send
        ]
        harness.run_until_idle()
    return sent, [EventEnvelope.from_wire(d) for d in calls.details()]


def handled(harness: MotoHarness, since: int = 0) -> list[tuple[str, str | None]]:
    """(agent, event type) of every successful handling, in order, from handling `since` on."""
    return [(h.agent, h.event_type) for h in harness.handlings()[since:] if h.outcome == "handled"]


def expected(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / name / "scenario.json").read_text())["expect"])


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_example_on_moto_matches_its_scenario(name: str, soorma_moto, monkeypatch) -> None:
    scenario = Scenario.load(EXAMPLES / name)
    for key, value in scenario.env.items():  # e.g. the scripted language model
        monkeypatch.setenv(key, value)
    for folder in scenario.agent_folders():  # importable, as a function's folder is on Lambda
        monkeypatch.syspath_prepend(str(folder))
    harness = soorma_moto(scenario.agent_folders())
    sent, published = run(harness, scenario)

    dead = harness.dead_letters()
    pairs = handled(harness)
    expect = expected(name)
    assert Counter(pairs) == Counter(map(tuple, expect["handled"]))
    assert Counter(e.type for e in published) == Counter(expect["published"])
    assert len(dead) == expect["dead_letters"]
    for root in sent:  # one correlation id per workflow; causation links within it
        workflow = [e for e in published if e.correlation_id == root.correlation_id]
        ids = {e.id for e in workflow}
        assert all(e.causation_id in ids for e in workflow if e.id != root.id)
    # exactly once in effect: one completed claim per handling, in DynamoDB
    assert len(harness.idempotency_records()) == len(pairs)

    if scenario.after_fix is not None:  # fix, redrive to the source queue, expect what follows
        for key, value in scenario.after_fix.env.items():
            monkeypatch.setenv(key, value)
        before = len(harness.handlings())
        assert harness.redrive() == len(dead)
        with record_put_events() as calls:
            harness.run_until_idle()
        after = handled(harness, since=before)
        assert Counter(after) == Counter(map(tuple, scenario.after_fix.handled or []))
        assert Counter(d["type"] for d in calls.details()) == Counter(
            scenario.after_fix.published or []
        )
        assert len(harness.dead_letters()) == scenario.after_fix.dead_letters


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_example_in_memory_with_state_tables_matches_its_scenario(
    name: str, soorma_tables, soorma_bus, monkeypatch
) -> None:
    from soorma.registry import sync_registry

    scenario = Scenario.load(EXAMPLES / name)
    for key, value in scenario.env.items():
        monkeypatch.setenv(key, value)
    for folder in scenario.agent_folders():
        monkeypatch.syspath_prepend(str(folder))
    bus = soorma_bus(scenario.agent_folders())
    sync_registry(soorma_tables["registry"], [a.manifest() for a in bus.agents.values()])
    sent = send_events(bus, scenario)
    bus.run_until_idle()

    assert soorma_tables["memory"] == "soorma-test-memory"
    observed = Observed.of(collect(bus, sent), bus.agents)
    assert unmet_expectations(scenario.expect, observed) == []


def test_hello_world_reply_reaches_only_the_requester_on_moto(soorma_moto) -> None:
    harness = soorma_moto(EXAMPLES / "hello-world")
    _, published = run(harness, Scenario.load(EXAMPLES / "hello-world"))

    [request] = [e for e in published if e.type == "greeting.compose"]
    [reply] = [e for e in published if e.type == "greeting.composed"]
    assert (reply.reply_to, reply.causation_id, reply.data) == (
        "greeting-requester",
        request.id,
        {"greeting": "Hello, Ada!"},
    )
    receivers = [h.agent for h in harness.handlings() if h.event_id == reply.id]
    assert receivers == ["greeting-requester"]


def test_order_fanout_consumers_read_from_three_queues_on_moto(soorma_moto) -> None:
    harness = soorma_moto(EXAMPLES / "order-fanout")
    [order], _ = run(harness, Scenario.load(EXAMPLES / "order-fanout"))

    queues = {
        record["eventSourceARN"]
        for delivery in harness.deliveries
        for record, detail in zip(delivery.event["Records"], delivery.details(), strict=True)
        if detail["id"] == order.id
    }
    assert sorted(arn.rsplit(":", 1)[1] for arn in queues) == [
        "soorma-test-audit-log-business-facts",
        "soorma-test-inventory-business-facts",
        "soorma-test-notifier-business-facts",
    ]


def test_poison_message_lands_in_the_dlq_and_is_redriven_after_the_fix(
    soorma_moto, monkeypatch
) -> None:
    monkeypatch.delenv("POISON_FIXED", raising=False)
    harness = soorma_moto(EXAMPLES / "poison-message")
    (good, poison), published = run(harness, Scenario.load(EXAMPLES / "poison-message"))

    [letter] = harness.dead_letters("order-validator")
    assert (letter.kind, letter.topic) == ("permanent-error", FACTS)
    assert letter.reason is not None and "12,50" in letter.reason
    assert letter.envelope is not None and letter.envelope.id == poison.id
    assert [e.data["order_id"] for e in published if e.type == "order.validated"] == ["o-good"]
    assert harness.queue_depth("order-validator", FACTS) == 0  # reported done, not retried

    monkeypatch.setenv("POISON_FIXED", "1")  # the fix; then redrive to the source queue
    assert harness.redrive("order-validator", [letter.message_id]) == 1
    with record_put_events() as calls:
        harness.run_until_idle()

    assert harness.dead_letters() == []
    [validated] = [EventEnvelope.from_wire(d) for d in calls.details()]
    assert (validated.type, validated.data, validated.causation_id) == (
        "order.validated",
        {"order_id": "o-poison", "total": 12.5},
        poison.id,
    )
    assert good.correlation_id != poison.correlation_id


def test_every_example_agent_reads_its_manifest_in_a_child_process() -> None:
    from soorma_dev.manifests import read_manifests

    folders = [f for name in ALL_SCENARIOS for f in Scenario.load(EXAMPLES / name).agent_folders()]
    manifests = read_manifests(folders)  # what CDK and the local cloud do: `soorma manifest`
    assert [m.name for m in manifests] == [f.name for f in folders]
    assert all(m.subscriptions for m in manifests), "every example agent subscribes to something"
