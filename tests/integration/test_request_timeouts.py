"""Request deadlines (issue 15): `bus.request(..., timeout=)` gives the requester exactly one
answer, the reply or the timeout, whichever one conditional write lets through first; on the
in-memory bus and on moto (real Scheduler schedules, fired as Scheduler would)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soorma import Worker
from soorma_common import EventTopic
from soorma_common.errors import PermanentError

FACTS = EventTopic.BUSINESS_FACTS
LATER = timedelta(seconds=31)


def agents(answers: list[dict[str, Any]], *, fixed: dict[str, bool]) -> list[Worker]:
    """An asker that requests an answer with a 30 s deadline and records what its result
    handler gets, and a solver that dead-letters until it is `fixed`."""
    asker = Worker(name="asker")

    @asker.on_event("question.asked", topic=FACTS)
    def ask(event, context) -> None:
        context.bus.request("answer.compute", event.data, "answer.computed", timeout=30)

    @asker.on_result("answer.computed")
    def answered(event, context) -> None:
        answers.append({"data": event.data, "source": event.source, "id": event.id})

    solver = Worker(name="solver")

    @solver.on_task("answer.compute")
    def solve(event, context) -> dict[str, Any]:
        if not fixed["solver"]:
            raise PermanentError("the solver cannot read the question yet")
        return {"success": True, "value": 42}

    return [asker, solver]


TIMEOUT = {"success": False, "error": "timeout"}


def test_a_responder_that_dead_letters_gets_the_requester_the_timeout_once(soorma_bus) -> None:
    answers: list[dict[str, Any]] = []
    fixed = {"solver": False}
    bus = soorma_bus(*agents(answers, fixed=fixed))
    bus.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    bus.run_until_idle()
    assert answers == [] and len(bus.dead_letters("solver")) == 1

    assert bus.fire_deadlines(datetime.now(UTC) + LATER) == 1
    bus.run_until_idle()
    assert [a["data"] for a in answers] == [TIMEOUT]
    assert answers[0]["source"] == "soorma.platform"
    assert bus.fire_deadlines(datetime.now(UTC) + 2 * LATER) == 0  # fired once

    fixed["solver"] = True  # the fix, then the redrive: the reply now comes too late
    assert bus.redrive("solver") == 1
    bus.run_until_idle()
    assert [a["data"] for a in answers] == [TIMEOUT]  # not delivered
    assert bus.dead_letters() == []


def test_a_reply_in_time_makes_the_timeout_harmless(soorma_bus) -> None:
    answers: list[dict[str, Any]] = []
    bus = soorma_bus(*agents(answers, fixed={"solver": True}))
    bus.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    bus.run_until_idle()
    assert [a["data"] for a in answers] == [{"success": True, "value": 42}]

    assert bus.fire_deadlines(datetime.now(UTC) + LATER) == 1  # the schedule still fires...
    bus.run_until_idle()
    assert len(answers) == 1  # ...and its timeout is acknowledged, not delivered
    assert bus.dead_letters() == []


def test_a_timeout_outside_what_a_request_can_wait_is_refused(soorma_bus) -> None:
    asker = Worker(name="impatient")
    errors: list[str] = []

    @asker.on_event("question.asked", topic=FACTS)
    def ask(event, context) -> None:
        for timeout in (0, -5, 10**9):
            try:
                context.bus.request("answer.compute", {}, "answer.computed", timeout=timeout)
            except PermanentError as exc:
                errors.append(str(exc))

    bus = soorma_bus(asker)
    bus.send("question.asked", {}, topic=FACTS)
    bus.run_until_idle()
    assert len(errors) == 3 and all("timeout must be more than 0" in e for e in errors)


def test_a_forged_deadline_is_refused_at_publish(soorma_bus) -> None:
    publisher = Worker(name="forger")
    errors: list[str] = []

    @publisher.on_event("question.asked", topic=FACTS)
    def forge(event, context) -> None:
        try:
            context.bus.publish(FACTS, "x.happened", {}, deadline="tomorrow")
        except PermanentError as exc:
            errors.append(str(exc))

    bus = soorma_bus(publisher)
    bus.send("question.asked", {}, topic=FACTS)
    bus.run_until_idle()
    assert errors and "not a UTC time" in errors[0]


@pytest.mark.parametrize("reply_first", [True, False], ids=["reply-first", "timeout-first"])
def test_on_moto_exactly_one_of_reply_and_timeout_is_delivered(
    soorma_moto, reply_first: bool
) -> None:
    answers: list[dict[str, Any]] = []
    fixed = {"solver": reply_first}
    harness = soorma_moto(agents(answers, fixed=fixed))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    scheduler = harness.session.client("scheduler")
    [schedule] = scheduler.list_schedules()["Schedules"]
    assert schedule["Name"].startswith("soorma-timeout-")

    assert harness.fire_deadlines(datetime.now(UTC)) == 0  # not due yet
    assert harness.fire_deadlines(datetime.now(UTC) + LATER) == 1
    assert scheduler.list_schedules()["Schedules"] == []  # deleted after it fired
    harness.run_until_idle()
    if not reply_first:
        fixed["solver"] = True
        assert harness.redrive("solver") == 1
        harness.run_until_idle()

    [answer] = answers
    expected = {"success": True, "value": 42} if reply_first else TIMEOUT
    assert answer["data"] == expected
    assert harness.dead_letters() == []
    late = [h for h in harness.handlings("asker") if h.event_type == "answer.computed"]
    assert len(late) == 2 and all(h.outcome == "handled" for h in late)  # both acknowledged


@pytest.mark.parametrize("timeout_first", [False, True], ids=["reply-decides", "timeout-decides"])
def test_one_conditional_write_decides_between_reply_and_timeout(
    soorma_moto, timeout_first: bool
) -> None:
    """The decision is one conditional UpdateItem (`status = PENDING OR decided_by = me`):
    whoever writes first wins, the other is refused, and the winner's redelivery passes again.
    (DynamoDB makes the write atomic; moto's in-process backend is not thread-safe, so the
    contenders write one after the other here, in both orders.)"""
    from soorma.config import settings
    from soorma.requests import PLATFORM_SOURCE, DynamoDBPendingRequests, SentRequest
    from soorma_common import EventEnvelope

    soorma_moto([])
    table = settings().idempotency_table
    assert table is not None
    pending = DynamoDBPendingRequests(table, ttl_seconds=3600)
    request = SentRequest(
        "asker",
        "r-1",
        "answer.compute",
        "answer.computed",
        "action-results",
        "c-1",
        "2026-12-03T07:00:00Z",
    )
    pending.record([request])
    reply, timeout = (
        EventEnvelope(source=source, type="answer.computed", topic="action-results")
        for source in ("soorma.solver", PLATFORM_SOURCE)
    )
    first, second = (timeout, reply) if timeout_first else (reply, timeout)
    assert pending.decide(request, first) is True
    assert pending.decide(request, second) is False
    assert pending.decide(request, first) is True  # a redelivery of the winner
    impostor = first.model_copy(update={"source": "soorma.impostor"})  # the winner's id reused
    assert pending.decide(request, impostor) is False
    item = boto3_item(table, "asker#request#r-1")
    assert item["status"]["S"] == ("TIMED_OUT" if timeout_first else "ANSWERED")
    assert item["decided_by"]["S"] == first.id
    assert item["decided_by_source"]["S"] == first.source


def test_a_request_decided_before_sources_were_recorded_still_passes_its_winner(
    soorma_moto,
) -> None:
    """A decision written by an earlier runtime holds `decided_by` only: the winner's
    redelivery after the upgrade passes on its id, and records its source from then on."""
    import boto3

    from soorma.config import settings
    from soorma.requests import DynamoDBPendingRequests, SentRequest
    from soorma_common import EventEnvelope

    soorma_moto([])
    table = settings().idempotency_table
    assert table is not None
    pending = DynamoDBPendingRequests(table, ttl_seconds=3600)
    request = SentRequest(
        "asker", "r-2", "answer.compute", "answer.computed", "action-results", "c"
    )
    pending.record([request])
    winner = EventEnvelope(source="soorma.solver", type="answer.computed", topic="action-results")
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"id": {"S": "asker#request#r-2"}},
        UpdateExpression="SET #status = :answered, decided_by = :winner",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":answered": {"S": "ANSWERED"}, ":winner": {"S": winner.id}},
    )
    assert pending.decide(request, winner) is True
    assert boto3_item(table, "asker#request#r-2")["decided_by_source"]["S"] == "soorma.solver"
    impostor = winner.model_copy(update={"source": "soorma.impostor"})
    assert pending.decide(request, impostor) is False


def boto3_item(table: str, key: str) -> dict[str, Any]:
    import boto3

    return dict(boto3.client("dynamodb").get_item(TableName=table, Key={"id": {"S": key}})["Item"])


def test_a_fan_in_completes_at_its_deadline_with_the_missing_answer_marked(soorma_moto) -> None:
    from soorma import Tool
    from soorma.workflows import TaskContext

    completed: list[dict[str, Any]] = []
    desk = Worker(name="trip-desk")
    tools = Tool(name="bookings")

    @desk.on_event("trip.wanted", topic=FACTS)
    async def wanted(event, context) -> None:
        task = TaskContext.for_context(context)
        await task.delegate_parallel(
            [("flight.book", {}, "flight.booked"), ("hotel.book", {}, "hotel.booked")],
            timeout=60,
        )

    @desk.on_result()
    async def gathered(event, context) -> None:
        task = await TaskContext.restore(context)
        assert task is not None
        if (await task.record_result()).complete:
            completed.append({r.request_type: r.data for r in task.results.values()})

    @tools.on_invoke("flight.book")
    def flight(event, context) -> dict[str, Any]:
        return {"flight": "F-1"}

    @tools.on_invoke("hotel.book")
    def hotel(event, context) -> dict[str, Any]:
        raise PermanentError("the hotel system is down")  # dead-lettered: never answers

    harness = soorma_moto([desk, tools])
    harness.send("trip.wanted", {}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    assert completed == []  # waiting for the hotel

    assert harness.fire_deadlines(datetime.now(UTC) + timedelta(seconds=61)) == 2
    harness.run_until_idle()
    assert completed == [{"flight.book": {"flight": "F-1"}, "hotel.book": TIMEOUT}]


def test_a_plan_state_with_a_timeout_takes_its_timeout_transition(soorma_moto) -> None:
    from soorma import Planner, Tool
    from soorma.memory import MemoryClient, PlanStatus
    from soorma.workflows import Action, PlanContext, PlanDefinition, State

    quoting = PlanDefinition(
        name="quoting",
        initial="asking",
        states=[
            State(
                "asking",
                actions=[Action("quote.request", "quote.given")],
                default_next="quoted",
                timeout=120,
                on_timeout="gave-up",
            ),
            State("quoted", terminal=PlanStatus.COMPLETED),
            State("gave-up", terminal=PlanStatus.FAILED),
        ],
    )
    planner = Planner(name="quote-planner")
    supplier = Tool(name="supplier")
    plans: list[str] = []

    @planner.on_goal("quote.wanted")
    async def wanted(event, context) -> None:
        plans.append((await PlanContext.start(context, quoting)).plan_id)

    @planner.on_result()
    async def result(event, context) -> None:
        plan = await PlanContext.restore(context, quoting)
        if plan is not None:
            await plan.advance(event)

    @supplier.on_invoke("quote.request")
    def quote(event, context) -> dict[str, Any]:
        raise PermanentError("the supplier is unreachable")

    harness = soorma_moto([planner, supplier])
    harness.send("quote.wanted", {}, topic="action-requests", tenant_id="acme")
    harness.run_until_idle()
    [plan_id] = plans
    memory = MemoryClient("acme")
    assert asyncio.run(memory.get_plan(plan_id)).state == "asking"

    assert harness.fire_deadlines(datetime.now(UTC) + timedelta(seconds=121)) == 1
    harness.run_until_idle()
    plan = asyncio.run(memory.get_plan(plan_id))
    assert (plan.state, plan.status) == ("gave-up", PlanStatus.FAILED)


def test_on_timeout_needs_a_timeout_and_actions() -> None:
    from soorma.workflows import PlanDefinition, State

    with pytest.raises(ValueError, match="has on_timeout but no timeout"):
        PlanDefinition(initial="a", states=[State("a", on_timeout="a")])


def approval_agents(plans: list[str]) -> list[Any]:
    from soorma import Planner
    from soorma.memory import PlanStatus
    from soorma.workflows import PlanContext, PlanDefinition, State, Transition, ask_for_input

    approval = PlanDefinition(
        name="refund-approval",
        initial="asking",
        states=[
            State(
                "asking",
                actions=[ask_for_input("Refund 40 EUR to ada?", key="answer")],
                transitions=[Transition(to="refunded", when="results.answer.approved")],
                default_next="refused",
                timeout=3600,
                on_timeout="expired",
            ),
            State("refunded", terminal=PlanStatus.COMPLETED),
            State("refused", terminal=PlanStatus.FAILED),
            State("expired", terminal=PlanStatus.FAILED),
        ],
    )
    planner = Planner(name="refunds")

    @planner.on_goal("refund.wanted")
    async def wanted(event, context) -> None:
        plans.append((await PlanContext.start(context, approval)).plan_id)

    @planner.on_result()
    async def answered(event, context) -> None:
        plan = await PlanContext.restore(context, approval)
        if plan is not None:
            await plan.advance(event)

    return [planner]


@pytest.mark.parametrize("answered", [True, False], ids=["a-person-answers", "nobody-answers"])
def test_a_plan_waits_for_a_person_and_times_out_when_nobody_answers(
    soorma_moto, answered: bool
) -> None:
    from soorma.memory import MemoryClient, PlanStatus

    plans: list[str] = []
    harness = soorma_moto(approval_agents(plans))
    harness.send("refund.wanted", {}, topic="action-requests", tenant_id="acme", user_id="ada")
    harness.run_until_idle()
    [plan_id] = plans
    memory = MemoryClient("acme", "ada")
    [waiting] = [e for e in harness.published if e.type == "plan.waiting_for_input"]
    assert waiting.topic == EventTopic.NOTIFICATION_EVENTS
    assert (waiting.data["prompt"], waiting.data["to"]) == ("Refund 40 EUR to ada?", "refunds")

    if answered:  # what `soorma input REQUEST_ID --to refunds --data ...` sends
        harness.send(
            "plan.input_provided",
            {"approved": True},
            topic=EventTopic.ACTION_RESULTS,
            reply_to="refunds",
            causation_id=waiting.data["request_id"],
            correlation_id=waiting.correlation_id,
            tenant_id="acme",
            user_id="ada",
        )
        harness.run_until_idle()
    harness.fire_deadlines(datetime.now(UTC) + timedelta(seconds=3601))
    harness.run_until_idle()

    plan = asyncio.run(memory.get_plan(plan_id))
    if answered:
        assert (plan.state, plan.status) == ("refunded", PlanStatus.COMPLETED)
    else:
        assert (plan.state, plan.status) == ("expired", PlanStatus.FAILED)
    assert harness.dead_letters() == []


def test_a_timeout_put_twice_and_a_request_flushed_twice_still_make_one_answer(
    soorma_moto,
) -> None:
    """Scheduler delivers at least once, and a record may be flushed again: one schedule per
    request, and a second copy of the same timeout reply is one event to the requester."""
    from soorma.config import settings
    from soorma.deadlines import SchedulerDeadlines, requests_with_deadlines

    answers: list[dict[str, Any]] = []
    harness = soorma_moto(agents(answers, fixed={"solver": False}))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    [request] = [e for e in harness.published if e.type == "answer.compute"]
    scheduler = harness.session.client("scheduler")
    conf = settings()
    assert conf.event_bus_arn and conf.deadline_role_arn
    again = SchedulerDeadlines(
        bus_arn=conf.event_bus_arn, role_arn=conf.deadline_role_arn, client=scheduler
    )
    again.schedule(requests_with_deadlines([request.to_wire()]))  # a second flush
    assert len(scheduler.list_schedules()["Schedules"]) == 1

    assert harness.fire_deadlines(datetime.now(UTC) + LATER) == 1
    harness.run_until_idle()
    [timeout] = [e for e in harness.published if e.source == "soorma.platform"]
    harness.put(timeout)  # Scheduler's at-least-once: the same reply again
    harness.run_until_idle()
    assert [a["data"] for a in answers] == [TIMEOUT]
    assert harness.dead_letters("asker") == []
