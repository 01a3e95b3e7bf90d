"""The order-fulfilment example on moto (`MotoHarness`): a planner's plan, parallel delegation,
fan-in, a conditional transition, plan completion, and the reply reaching the requester."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from soorma.memory import MemoryClient, PlanStatus
from soorma_common import EventEnvelope
from soorma_dev.harness import MotoHarness, record_put_events
from soorma_dev.scenarios import Scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "order-fulfilment"


def run(harness: MotoHarness, scenario: Scenario, **changes: Any) -> list[EventEnvelope]:
    """Send the scenario's events (data updated with `changes`); return every envelope put."""
    with record_put_events() as calls:
        for e in scenario.send:
            harness.send(
                e.event_type,
                {**e.data, **changes},
                topic=e.topic,
                source="soorma.cli",
                tenant_id=e.tenant_id,
                user_id=e.user_id,
            )
        harness.run_until_idle()
    return [EventEnvelope.from_wire(d) for d in calls.details()]


@contextmanager
def memory_calls() -> Iterator[Counter[str]]:
    """Count the DynamoDB operations on the memory table (BatchWriteItem: per entry)."""
    from soorma import clients
    from soorma.config import settings

    counts: Counter[str] = Counter()
    table = settings().memory_table

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") == table:
            counts[model.name] += 1
        elif table in params.get("RequestItems", {}):
            counts[model.name] += len(params["RequestItems"][table])
        elif any(table in str(op) for op in params.get("TransactItems", [])):
            counts[model.name] += 1

    events = clients.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", hook)
    try:
        yield counts
    finally:
        events.unregister("provide-client-params.dynamodb", hook)


def handled_pairs(harness: MotoHarness) -> list[tuple[str, str]]:
    pairs = []
    for delivery in harness.deliveries:
        for record, detail in zip(delivery.event["Records"], delivery.details(), strict=True):
            if record["messageId"] not in delivery.failed_ids:
                pairs.append((delivery.agent, detail["type"]))
    return pairs


def test_order_fulfilment_plan_completes_and_the_reply_reaches_the_storefront(soorma_moto) -> None:
    scenario = Scenario.load(EXAMPLE)
    harness = soorma_moto(scenario.agent_folders())
    with memory_calls() as calls:
        published = run(harness, scenario)

    expect = json.loads((EXAMPLE / "scenario.json").read_text())["expect"]
    assert Counter(handled_pairs(harness)) == Counter(map(tuple, expect["handled"]))
    assert Counter(e.type for e in published) == Counter(expect["published"])
    assert harness.dead_letters() == []

    by_type = {e.type: e for e in published}
    goal, reply = by_type["order.fulfil"], by_type["order.fulfilled"]
    # the reply goes to the requester and names the goal request as its cause
    assert (reply.reply_to, reply.causation_id) == ("storefront", goal.id)
    assert reply.data["success"] is True and reply.data["outcome"] == "fulfilled"
    assert reply.data["reservation"]["reserved"] is True
    assert reply.data["payment"] == {"order_id": "o-7", "charged": True, "amount": 42.5}
    # one correlation id for the whole workflow
    assert {e.correlation_id for e in published} == {goal.correlation_id}

    plan_id = by_type["plan.started"].data["plan_id"]
    memory = MemoryClient("acme", "u-7")
    plan = asyncio.run(memory.get_plan(plan_id))
    assert plan is not None
    assert (plan.status, plan.state, plan.goal_event) == (
        PlanStatus.COMPLETED,
        "fulfilled",
        "order.fulfil",
    )
    assert by_type["plan.completed"].data["state"] == "fulfilled"
    # the reply was logged by the storefront in episodic memory
    history = asyncio.run(memory.get_recent_history("storefront"))
    assert [h.content["plan_id"] for h in history] == [plan_id]
    # what one order costs in memory calls (docs/memory.md): plan, group and 2 pointers, the
    # interaction; per reply 3 reads to restore, 1 transaction (reply item + count), 1 read of
    # the count; the completing reply claims (1 update) and reads the state's replies (1
    # query); 1 move, 1 status change
    assert calls == {
        "PutItem": 3,
        "BatchWriteItem": 2,
        "GetItem": 8,
        "TransactWriteItems": 2,
        "UpdateItem": 3,
        "Query": 1,
    }


def test_a_failed_payment_moves_the_plan_to_rejected(soorma_moto) -> None:
    scenario = Scenario.load(EXAMPLE)
    harness = soorma_moto(scenario.agent_folders())
    published = run(harness, scenario, total=5000)

    by_type = {e.type: e for e in published}
    assert "plan.completed" not in by_type
    assert by_type["plan.failed"].data["state"] == "rejected"
    reply = by_type["order.fulfilled"]
    assert (reply.reply_to, reply.data["success"], reply.data["outcome"]) == (
        "storefront",
        False,
        "rejected",
    )
    plan = asyncio.run(
        MemoryClient("acme", "u-7").get_plan(by_type["plan.started"].data["plan_id"])
    )
    assert plan is not None and plan.status is PlanStatus.FAILED
