"""Stalled workflows (issue 15) on the moto harness: an open plan without progress gets one
`workflow.stalled` on `system-events` over any number of sweeps; one that progresses is not
reported; one that progresses and stalls again is reported again; ended and paused plans never
are; the sweep reads the `by_progress` index with one Query per shard, never a Scan."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from soorma import Planner, Tool
from soorma.ai import ScriptedProvider
from soorma.manifests.discovery import import_handler_module
from soorma.memory import MemoryClient, MemoryTable, PlanStatus
from soorma.workflows import Action, PlanContext, PlanDefinition, State, Transition
from soorma.workflows.stalls import (
    SweepReport,
    cutoff,
    find_candidates,
    mark_stalled,
    platform_publisher,
    sweep,
)
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import TransientError
from soorma_dev.harness import LambdaContextStub, MotoHarness
from tests.ai_world import GOAL, RESEARCH_TOOL, planner, register, workers

LOAN = PlanDefinition(
    name="loan",
    initial="scoring",
    states=[
        State(
            "scoring",
            actions=[Action("score.compute", "score.computed")],
            transitions=[Transition(to="approved", when="data.score >= 80")],
            default_next="review",
        ),
        State("review", actions=[Action("review.request", "review.done")], default_next="done"),
        State("approved", terminal=PlanStatus.COMPLETED),
        State("done", terminal=PlanStatus.COMPLETED),
    ],
)
MINUTE = timedelta(minutes=1)
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def loan_agents(*, with_scorer: bool) -> list[Any]:
    """A planner, and (optionally) a scorer that answers at once; nobody reviews."""
    loan_planner = Planner(name="loan-planner")

    @loan_planner.on_goal("loan.assess")
    async def assess(event: EventEnvelope, context: Any) -> None:
        plan = await PlanContext.start(context, LOAN)
        if event.data.get("pause"):
            await plan.pause("waiting for a human")

    @loan_planner.on_result()
    async def result(event: EventEnvelope, context: Any) -> None:
        plan = await PlanContext.restore(context, LOAN)
        if plan is not None:
            await plan.advance(event)

    scorer = Tool(name="scorer")

    @scorer.on_invoke("score.compute")
    def score(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"score": event.data.get("score", 90)}

    return [loan_planner, scorer] if with_scorer else [loan_planner]


def start_loan(harness: MotoHarness, **data: Any) -> EventEnvelope:
    goal = harness.send(
        "loan.assess",
        data,
        topic=EventTopic.ACTION_REQUESTS,
        source="soorma.bank",
        tenant_id="bank",
        user_id="clerk",
        response_event="loan.assessed",
        reply_to="desk",
    )
    harness.run_until_idle()
    return goal


def stalled_events(harness: MotoHarness) -> list[EventEnvelope]:
    return [e for e in harness.published if e.type == "workflow.stalled"]


def answer(harness: MotoHarness, request: EventEnvelope, data: dict[str, Any]) -> None:
    """The reply a scorer would have sent to `request` (the plan's progress)."""
    harness.send(
        request.response_event or "",
        data,
        topic=EventTopic.ACTION_RESULTS,
        source="soorma.scorer",
        causation_id=request.id,
        correlation_id=request.correlation_id,
        reply_to=request.reply_to,
        tenant_id="bank",
        user_id="clerk",
    )
    harness.run_until_idle()


def test_a_plan_that_stops_progressing_is_reported_once_then_again_after_progress(
    soorma_moto: Any,
) -> None:
    harness = soorma_moto(*loan_agents(with_scorer=False))
    goal = start_loan(harness, amount=5000)
    now = datetime.now(UTC)

    assert harness.sweep_stalled(now + MINUTE).reported == []  # progressed a minute ago
    first = harness.sweep_stalled(now + 20 * MINUTE)
    later = [harness.sweep_stalled(now + n * MINUTE) for n in (25, 30, 600)]

    [stalled] = stalled_events(harness)
    assert len(first.reported) == 1 and all(not r.reported for r in later)
    assert later[0].candidates == 0  # a reported plan leaves the swept range
    assert stalled.topic is EventTopic.SYSTEM_EVENTS and stalled.source == "soorma.platform"
    assert stalled.correlation_id == goal.correlation_id
    assert (stalled.tenant_id, stalled.user_id) == ("bank", "clerk")
    assert stalled.plan_id == stalled.data["plan_id"] == first.reported[0].plan_id
    assert stalled.data["kind"] == "workflow" and stalled.data["state"] == "scoring"
    assert stalled.data["status"] == "running"
    assert 19 * 60 < stalled.data["stalled_seconds"] < 21 * 60
    assert stalled.data["stalled_after_seconds"] == 900

    # The score arrives: the plan moves on (to review), which is progress.
    [request] = [e for e in harness.published if e.type == "score.compute"]
    answer(harness, request, {"score": 60})
    moved = datetime.now(UTC)
    assert harness.sweep_stalled(moved + 10 * MINUTE).reported == []
    # Nobody reviews: it stalls again, and is reported again (once).
    again = harness.sweep_stalled(moved + 16 * MINUTE)
    harness.sweep_stalled(moved + 40 * MINUTE)
    assert [r.state for r in again.reported] == ["review"]
    assert [e.data["state"] for e in stalled_events(harness)] == ["scoring", "review"]
    assert len({e.id for e in stalled_events(harness)}) == 2


def test_ended_and_paused_plans_are_never_reported(soorma_moto: Any) -> None:
    harness = soorma_moto(*loan_agents(with_scorer=True))
    start_loan(harness, amount=5000, score=90)  # approved: completed
    start_loan(harness, amount=7000, pause=True)  # paused while its score is on the way
    plans = asyncio.run(MemoryClient("bank", "clerk").list_plans())
    assert sorted(p.status.value for p in plans) == ["completed", "paused"]

    report = harness.sweep_stalled(datetime.now(UTC) + timedelta(days=1))

    assert report.candidates == 0 and stalled_events(harness) == []


def test_many_open_plans_are_found_with_one_query_per_shard_and_no_scan(soorma_moto: Any) -> None:
    harness = soorma_moto(*loan_agents(with_scorer=False))
    memory = MemoryClient("acme", "ada")
    for n in range(40):
        asyncio.run(memory.create_plan("order.fulfil", {"n": n}, plan_id=f"order-{n}"))
    client = boto3.client("dynamodb")
    calls: Counter[str] = Counter()
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )
    table = MemoryTable(harness.platform.tables["memory"], ttl_seconds=0, client=client)
    events = boto3.client("events")
    puts: list[int] = []
    events.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: puts.append(len(params["Entries"])),
    )
    publish = platform_publisher(harness.platform.bus_name, events)
    later = datetime.now(UTC) + 20 * MINUTE

    first = sweep(table, publish, now=later)
    first_calls = dict(calls)
    calls.clear()
    second = sweep(table, publish, now=later + MINUTE)

    assert len(first.reported) == 40 and first.queries == 16
    assert first_calls == {"Query": 16, "UpdateItem": 40}  # no Scan, no read per plan
    assert puts == [10, 10, 10, 10]  # ten notices per PutEvents
    assert dict(calls) == {"Query": 16} and second.candidates == 0
    marks = table.query("pk = :pk", values={":pk": "T#acme#PLAN#order-0"})
    assert next(marks)["open_sk"].startswith("STALLED#")
    shards = {table.get(f"T#acme#PLAN#order-{n}", "META")["open_pk"] for n in range(40)}
    assert len(shards) > 8  # spread over the 16 index partitions
    assert len(stalled_events(harness)) == 40


def test_two_sweeps_racing_report_a_stall_once(soorma_moto: Any) -> None:
    soorma_moto(*loan_agents(with_scorer=False))
    asyncio.run(MemoryClient("acme", "ada").create_plan("order.fulfil", {}, plan_id="o-1"))
    table = MemoryTable.from_settings()
    later = datetime.now(UTC) + 20 * MINUTE

    # Both sweeps read the index before either marks the plan.
    [seen_by_a] = find_candidates(table, cutoff(later, 900), SweepReport(), limit=10)
    [seen_by_b] = find_candidates(table, cutoff(later, 900), SweepReport(), limit=10)

    assert mark_stalled(table, seen_by_a, later) is not None
    assert mark_stalled(table, seen_by_b, later) is None


def test_a_notice_that_cannot_be_published_is_reported_by_the_next_sweep(
    soorma_moto: Any,
) -> None:
    harness = soorma_moto(*loan_agents(with_scorer=False))
    asyncio.run(MemoryClient("acme", "ada").create_plan("order.fulfil", {}, plan_id="o-1"))
    table = MemoryTable.from_settings()
    later = datetime.now(UTC) + 20 * MINUTE

    def failing(events: Any) -> None:
        raise TransientError("PutEvents failed")

    with pytest.raises(TransientError):
        sweep(table, failing, now=later)
    retried = harness.sweep_stalled(later + MINUTE)

    assert [r.plan_id for r in retried.reported] == ["o-1"]
    assert len(stalled_events(harness)) == 1


def test_a_choreography_plan_is_watched_by_its_own_steps(soorma_moto: Any) -> None:
    model = ScriptedProvider(lambda request: (RESEARCH_TOOL, {"topic": "tides"}))
    research_planner = planner(model)
    harness = soorma_moto(research_planner)  # nobody answers the research request
    register(harness.platform.tables, [research_planner, *workers()])
    harness.send(
        GOAL,
        {"question": "Why are there tides?"},
        topic=EventTopic.ACTION_REQUESTS,
        source="soorma.asker",
        response_event="research.answered",
        reply_to="asker",
        tenant_id="acme",
        user_id="ada",
    )
    harness.run_until_idle()
    now = datetime.now(UTC)

    assert harness.sweep_stalled(now + 5 * MINUTE, stalled_after_seconds=600).reported == []
    report = harness.sweep_stalled(now + 11 * MINUTE, stalled_after_seconds=600)
    harness.sweep_stalled(now + 30 * MINUTE, stalled_after_seconds=600)

    [stalled] = stalled_events(harness)  # the plan record (META) is not reported beside it
    assert [r.kind for r in report.reported] == ["choreography"]
    assert stalled.data["kind"] == "choreography" and stalled.data["status"] == "running"
    assert stalled.data["pending_requests"] == 1
    assert stalled.tenant_id == "acme" and stalled.data["stalled_after_seconds"] == 600


def test_the_sweep_function_reports_and_counts_what_it_found(
    soorma_moto: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = soorma_moto(*loan_agents(with_scorer=False))
    asyncio.run(MemoryClient("acme", "ada").create_plan("order.fulfil", {}, plan_id="o-1"))
    table = MemoryTable.from_settings()
    long_ago = "2026-01-01T00:00:00.000000+00:00"  # its last progress, long before now
    table.update("T#acme#PLAN#o-1", "META", "SET open_sk = :t", values={":t": long_ago})
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    function = import_handler_module(FUNCTIONS / "stall_sweep")
    capsys.readouterr()

    answer = function.handler(
        {"stalled_after_seconds": 600}, LambdaContextStub("soorma-test-stall-sweep")
    )
    again = function.handler({}, LambdaContextStub("soorma-test-stall-sweep"))

    assert answer == {"queries": 16, "candidates": 1, "reported": 1, "lost": 0}
    assert again["reported"] == 0
    [stalled] = stalled_events(harness)
    assert stalled.data["last_progress"] == long_ago
    assert stalled.data["stalled_after_seconds"] == 600
    metrics = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"StalledWorkflows"' in line and line.startswith("{")
    ]
    assert [m["StalledWorkflows"] for m in metrics] == [[1.0], [0.0]]  # EMF: one value each
    assert {m["service"] for m in metrics} == {"stall-sweep"}
    with pytest.raises(ValueError, match="stalled_after_seconds must be a positive number"):
        function.stalled_after({"stalled_after_seconds": "soon"})
