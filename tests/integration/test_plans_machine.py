"""`PlanContext` on moto with real agents: conditional transitions, `on` filters, default next
state, `Planner.on_transition`, illegal transitions, pause/resume, and a retried handler."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from soorma import Planner, Tool
from soorma.memory import MemoryClient, PlanStatus
from soorma.workflows import Action, PlanContext, PlanDefinition, State, Transition
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import IllegalTransitionError, TransientError
from soorma_dev.harness import MotoHarness, record_put_events

ASSESSMENT = PlanDefinition(
    name="loan-assessment",
    initial="scoring",
    states=[
        State(
            "scoring",
            actions=[Action("score.compute", "score.computed")],
            transitions=[
                Transition(to="approved", when="data.score >= 80"),
                Transition(to="review", when="data.score >= 50 and goal.amount < 10000"),
                Transition(to="fraud", on="score.refused"),
            ],
            default_next="rejected",
        ),
        State(
            "review",
            actions=[Action("review.request", "review.done", data={"queue": "loans"})],
            transitions=[Transition(to="approved", when="data.ok")],
            default_next="rejected",
        ),
        State("approved", terminal=PlanStatus.COMPLETED),
        State("rejected", terminal=PlanStatus.FAILED),
        State("fraud", terminal=PlanStatus.FAILED),
    ],
)


class Agents:
    """A planner and two tools; `moves` records what `on_transition` saw."""

    def __init__(self, *, fail_first_move: bool = False, planner_class: type = Planner) -> None:
        self.moves: list[tuple[str, str, str]] = []
        self.failures_left = 1 if fail_first_move else 0
        planner = planner_class(name="loan-planner")
        scorer = Tool(name="scorer")
        reviewer = Tool(name="reviewer", default_response_event="review.done")

        @planner.on_goal("loan.assess")
        async def assess(event: EventEnvelope, context: Any) -> None:
            plan = await PlanContext.start(context, ASSESSMENT)
            if event.data.get("pause"):
                await plan.pause("waiting for a human")

        @planner.on_event("loan.resume", topic=EventTopic.BUSINESS_FACTS)
        async def resume(event: EventEnvelope, context: Any) -> None:
            plan = await PlanContext.load(context, ASSESSMENT, event.data["plan_id"])
            await plan.resume()

        @planner.on_result()
        async def result(event: EventEnvelope, context: Any) -> None:
            plan = await PlanContext.restore(context, ASSESSMENT)
            if plan is not None:
                await plan.advance(event)

        @planner.on_transition()
        def every_move(transition: Any, plan: PlanContext, context: Any) -> None:
            self.moves.append((transition.from_state, transition.to_state, transition.event_type))
            if self.failures_left:
                self.failures_left -= 1
                raise TransientError("the first move fails after the plan was updated")

        @planner.on_transition(to_state="approved")
        def approved(transition: Any, plan: PlanContext, context: Any) -> None:
            plan.result = {"approved": True, "plan_id": plan.plan_id}

        @scorer.on_invoke("score.compute")
        def score(event: EventEnvelope, context: Any) -> dict[str, Any]:
            return {"score": event.data["score"]}

        @reviewer.on_invoke("review.request")
        def review(event: EventEnvelope, context: Any) -> dict[str, Any]:
            return {"ok": event.data == {"queue": "loans"}}

        self.all = [planner, scorer, reviewer]


def assess(harness: MotoHarness, **data: Any) -> list[EventEnvelope]:
    with record_put_events() as calls:
        harness.send(
            "loan.assess",
            {"amount": 5000, **data},
            topic=EventTopic.ACTION_REQUESTS,
            source="soorma.bank",
            tenant_id="bank",
            user_id="clerk",
            response_event="loan.assessed",
            reply_to="desk",
        )
        harness.run_until_idle()
    return [EventEnvelope.from_wire(d) for d in calls.details()]


def plan_of(published: list[EventEnvelope]) -> Any:
    [started] = [e for e in published if e.type == "plan.started"]
    return asyncio.run(MemoryClient("bank", "clerk").get_plan(started.data["plan_id"]))


@pytest.mark.parametrize(
    ("score", "amount", "final_state", "status", "moves"),
    [
        (90, 5000, "approved", PlanStatus.COMPLETED, [("scoring", "approved")]),
        (
            60,
            5000,
            "approved",
            PlanStatus.COMPLETED,
            [("scoring", "review"), ("review", "approved")],
        ),
        (60, 50000, "rejected", PlanStatus.FAILED, [("scoring", "rejected")]),
        (10, 5000, "rejected", PlanStatus.FAILED, [("scoring", "rejected")]),
    ],
)
def test_conditional_transitions_choose_the_state(
    soorma_moto, score: int, amount: int, final_state: str, status: PlanStatus, moves: list[Any]
) -> None:
    agents = Agents()
    published = assess(soorma_moto(*agents.all), score=score, amount=amount)

    plan = plan_of(published)
    assert (plan.state, plan.status) == (final_state, status)
    assert [(a, b) for a, b, _ in agents.moves] == moves
    changes = [e.data for e in published if e.type == "plan.state_changed"]
    assert [(c["from_state"], c["to_state"]) for c in changes] == moves
    [reply] = [e for e in published if e.type == "loan.assessed"]
    assert reply.reply_to == "desk"
    if final_state == "approved":
        assert reply.data == {"approved": True, "plan_id": plan.plan_id}
    ended = "plan.completed" if status is PlanStatus.COMPLETED else "plan.failed"
    assert [e.data["state"] for e in published if e.type == ended] == [final_state]


def test_a_transition_on_another_reply_type_is_not_taken(soorma_moto) -> None:
    agents = Agents()
    published = assess(soorma_moto(*agents.all), score=85)
    assert "fraud" not in {e.data.get("to_state") for e in published}
    assert plan_of(published).state == "approved"


def test_a_paused_plan_records_replies_and_moves_on_resume(soorma_moto) -> None:
    agents = Agents()
    harness = soorma_moto(*agents.all)
    published = assess(harness, score=95, pause=True)
    plan = plan_of(published)
    assert (plan.status, plan.state) == (PlanStatus.PAUSED, "scoring")
    assert agents.moves == []  # the score came back while paused: recorded, not acted on

    with record_put_events() as calls:
        harness.send(
            "loan.resume",
            {"plan_id": plan.plan_id},
            topic=EventTopic.BUSINESS_FACTS,
            source="soorma.bank",
            tenant_id="bank",
            user_id="clerk",
        )
        harness.run_until_idle()
    resumed = plan_of(published)
    assert (resumed.status, resumed.state) == (PlanStatus.COMPLETED, "approved")
    assert agents.moves == [("scoring", "approved", "score.computed")]
    assert "loan.assessed" in [d["type"] for d in calls.details()]


def test_a_handler_retried_after_moving_the_plan_moves_it_once(soorma_moto) -> None:
    agents = Agents(fail_first_move=True)
    published = assess(soorma_moto(*agents.all), score=99)

    plan = plan_of(published)
    assert (plan.status, plan.state) == (PlanStatus.COMPLETED, "approved")
    assert [e.type for e in published].count("plan.state_changed") == 1
    assert [e.type for e in published].count("plan.completed") == 1
    assert [e.type for e in published].count("loan.assessed") == 1
    assert len(agents.moves) == 2  # the hook ran in the failed attempt and in the retry


def test_illegal_transitions_fail(soorma_moto) -> None:
    agents = Agents()
    published = assess(soorma_moto(*agents.all), score=90)
    plan = plan_of(published)

    from soorma.bus import BusClient
    from soorma.context import PlatformContext

    event = EventEnvelope(
        source="soorma.bank",
        type="loan.poke",
        topic=EventTopic.BUSINESS_FACTS,
        tenant_id="bank",
        user_id="clerk",
    )
    context = PlatformContext(agents.all[0], event, BusClient("loan-planner", "x", handled=event))
    loaded = asyncio.run(PlanContext.load(context, ASSESSMENT, plan.plan_id))
    with pytest.raises(IllegalTransitionError, match="illegal transition approved -> review"):
        asyncio.run(loaded.transition_to("review"))
    with pytest.raises(IllegalTransitionError, match="illegal transition completed -> paused"):
        asyncio.run(loaded.pause())


@pytest.mark.parametrize(
    ("states", "message"),
    [
        ([State("a", actions=[Action("x", "y")], default_next="nowhere")], "unknown state"),
        ([State("a")], "has no actions and is not terminal"),
        ([State("b", terminal=PlanStatus.COMPLETED)], "initial state 'a'"),
        ([State("a", terminal=PlanStatus.PAUSED)], "terminal must be completed or failed"),
    ],
)
def test_a_definition_that_cannot_run_is_refused(states: list[State], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlanDefinition(initial="a", states=states)


def handling(agent: Any, event_type: str, topic: EventTopic, **fields: Any) -> Any:
    """The context of one handler invocation for a new event of the bank's clerk."""
    from soorma.bus import BusClient
    from soorma.context import PlatformContext

    event = EventEnvelope(
        source="soorma.bank",
        type=event_type,
        topic=topic,
        tenant_id="bank",
        user_id="clerk",
        **fields,
    )
    return PlatformContext(agent, event, BusClient(agent.name, "soorma.planner", handled=event))


def test_a_resume_racing_the_last_reply_still_moves_the_plan_once(soorma_moto) -> None:
    """The reply's handler reads the plan (paused), then the resume runs (the reply is not
    recorded yet: nothing to move), then the reply is recorded: the reply's handler moves it."""
    soorma_moto()
    agents = Agents()
    planner = agents.all[0]
    goal = handling(
        planner,
        "loan.assess",
        EventTopic.ACTION_REQUESTS,
        data={"amount": 5000},
        response_event="loan.assessed",
        reply_to="desk",
    )
    plan = asyncio.run(PlanContext.start(goal, ASSESSMENT))
    asyncio.run(plan.pause())
    [request] = [e for e in goal.bus.outbox if e.type == "score.compute"]

    reply = handling(
        planner,
        "score.computed",
        EventTopic.ACTION_RESULTS,
        data={"score": 95},
        causation_id=request.id,
    )
    restored = asyncio.run(PlanContext.restore(reply, ASSESSMENT))
    assert restored is not None and restored.status is PlanStatus.PAUSED

    resume = handling(planner, "loan.resume", EventTopic.BUSINESS_FACTS)
    loaded = asyncio.run(PlanContext.load(resume, ASSESSMENT, plan.plan_id))
    assert asyncio.run(loaded.resume()) is False  # the reply is not recorded yet

    assert asyncio.run(restored.advance()) is True
    final = asyncio.run(MemoryClient("bank", "clerk").get_plan(plan.plan_id))
    assert final is not None
    assert (final.status, final.state) == (PlanStatus.COMPLETED, "approved")
    assert agents.moves == [("scoring", "approved", "score.computed")]
    assert [e.type for e in reply.bus.outbox].count("loan.assessed") == 1


def test_a_resume_retried_after_moving_the_plan_finishes_the_move(soorma_moto) -> None:
    """The resume moves the plan, then fails (an on_transition hook): its retry must not find
    'nothing to do' but repeat the move's effects, so the plan completes and answers once."""
    agents = Agents(fail_first_move=True)
    harness = soorma_moto(*agents.all)
    published = assess(harness, score=95, pause=True)
    plan = plan_of(published)
    assert (plan.status, agents.moves) == (PlanStatus.PAUSED, [])

    with record_put_events() as calls:
        harness.send(
            "loan.resume",
            {"plan_id": plan.plan_id},
            topic=EventTopic.BUSINESS_FACTS,
            source="soorma.bank",
            tenant_id="bank",
            user_id="clerk",
        )
        harness.run_until_idle()
    resumed = plan_of(published)
    assert agents.failures_left == 0 and len(agents.moves) == 2  # failed once, then retried
    assert (resumed.status, resumed.state) == (PlanStatus.COMPLETED, "approved")
    types = [d["type"] for d in calls.details()]
    assert types.count("loan.assessed") == 1
    assert types.count("plan.completed") == 1


def test_a_reply_redelivered_after_a_resume_moved_the_plan_does_not_move_it_again(
    soorma_moto,
) -> None:
    """The resume made the move on the paused plan's last reply; that reply's handler, run
    again, must not take the move as its own and repeat it (a second review request)."""
    soorma_moto()
    agents = Agents()
    planner = agents.all[0]
    goal = handling(planner, "loan.assess", EventTopic.ACTION_REQUESTS, data={"amount": 5000})
    plan = asyncio.run(PlanContext.start(goal, ASSESSMENT))
    asyncio.run(plan.pause())
    [request] = [e for e in goal.bus.outbox if e.type == "score.compute"]
    fields = {"data": {"score": 60}, "causation_id": request.id}
    reply = handling(planner, "score.computed", EventTopic.ACTION_RESULTS, **fields)
    restored = asyncio.run(PlanContext.restore(reply, ASSESSMENT))
    assert restored is not None and asyncio.run(restored.advance()) is False  # paused

    resume = handling(planner, "loan.resume", EventTopic.BUSINESS_FACTS)
    assert asyncio.run(asyncio.run(PlanContext.load(resume, ASSESSMENT, plan.plan_id)).resume())
    assert [e.type for e in resume.bus.outbox].count("review.request") == 1

    again = handling(
        planner, "score.computed", EventTopic.ACTION_RESULTS, id=reply.event.id, **fields
    )
    redelivered = asyncio.run(PlanContext.restore(again, ASSESSMENT))
    assert redelivered is not None and asyncio.run(redelivered.advance()) is False
    assert again.bus.outbox == []
    assert agents.moves == [("scoring", "review", "score.computed")]
    final = asyncio.run(MemoryClient("bank", "clerk").get_plan(plan.plan_id))
    assert final is not None and (final.status, final.state) == (PlanStatus.RUNNING, "review")


def test_the_planner_alone_decides_which_transition_handlers_run(soorma_moto) -> None:
    """`PlanContext` asks `Planner.transitions_for`, so a planner that narrows it is obeyed."""

    class QuietPlanner(Planner):
        def transitions_for(self, from_state: str, to_state: str) -> list[Any]:
            return [h for h in super().transitions_for(from_state, to_state) if h.to_state]

    agents = Agents(planner_class=QuietPlanner)
    published = assess(soorma_moto(*agents.all), score=90)

    assert agents.moves == []  # `every_move` (no to_state) was filtered out by the planner
    [reply] = [e for e in published if e.type == "loan.assessed"]
    assert reply.data == {"approved": True, "plan_id": plan_of(published).plan_id}
