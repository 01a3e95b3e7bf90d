"""Plans at their limits, on moto: the hop limit against a plan whose states loop (or that is
merely deep), blank state names, and transition conditions over values nobody sent.

The goal comes from an agent (`desk`, a worker handling an outside fact), so its answer is an
event the runtime handles and may refuse as a loop, as it does in production: a plan stopped by
`SOORMA_MAX_HOPS` must answer within the limit, not merely publish an answer.
"""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest

from soorma import Worker
from soorma.memory import MemoryClient, PlanStatus
from soorma.workflows import Action, PlanDefinition, State, Transition
from soorma_common import EventEnvelope, EventTopic
from tests.integration.test_workflows_at_the_edges import rally

HIT = Action("ball.hit", "ball.returned")

LOOP = PlanDefinition(
    name="loop",
    initial="ping",
    states=[
        State(
            "ping",
            actions=[HIT],
            transitions=[Transition("won", "data.point")],
            default_next="pong",
        ),
        State(
            "pong",
            actions=[HIT],
            transitions=[Transition("won", "data.point")],
            default_next="ping",
        ),
        State("won", terminal=PlanStatus.COMPLETED),
    ],
)


def chain(states: int) -> PlanDefinition:
    """`states` states one after the other, each one round trip, then `done`."""
    names = [f"s{i}" for i in range(states)] + ["done"]
    return PlanDefinition(
        name="chain",
        initial=names[0],
        states=[
            *(State(a, actions=[HIT], default_next=b) for a, b in pairwise(names)),
            State("done", terminal=PlanStatus.COMPLETED),
        ],
    )


class Court:
    """`desk` asks the planner `coach` for `rally.play` (the goal, at hop 1); `coach` runs
    `definition`, whose actions the tool `wall` answers with `answer(event)`."""

    def __init__(self, definition: PlanDefinition, answer: Any = None) -> None:
        self.answers: list[EventEnvelope] = []
        desk = Worker(name="desk")
        court = self

        @desk.on_event("rally.wanted", topic=EventTopic.BUSINESS_FACTS)
        def wanted(event: EventEnvelope, context: Any) -> None:
            context.bus.request("rally.play", event.data, response_event="rally.played")

        @desk.on_result("rally.played")
        def played(event: EventEnvelope, context: Any) -> None:
            court.answers.append(event)

        self.agents = [desk, *rally(definition, answer)]  # the planner `coach`, the tool `wall`

    def play(self, harness: Any, **data: Any) -> Any:
        harness.send(
            "rally.wanted",
            data,
            topic=EventTopic.BUSINESS_FACTS,
            tenant_id="club",
            user_id="ada",
        )
        harness.run_until_idle()
        return harness


def plan_of(harness: Any) -> Any:
    [started] = [e for e in harness.published if e.type == "plan.started"]
    return asyncio.run(MemoryClient("club", "ada").get_plan(started.data["plan_id"]))


def types(harness: Any) -> list[str]:
    return [e.type for e in harness.published]


# ---- the hop limit --------------------------------------------------------------------------


@pytest.mark.parametrize("max_hops", [7, 8, 12, 13])
def test_a_looping_plan_fails_and_its_requester_agent_gets_the_answer(
    soorma_moto: Any, monkeypatch: pytest.MonkeyPatch, max_hops: int
) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", str(max_hops))
    court = Court(LOOP)
    harness = court.play(soorma_moto(*court.agents))
    plan = plan_of(harness)
    assert plan.status is PlanStatus.FAILED
    [answer] = court.answers  # handled by the requester: within the limit
    assert answer.hop_count is not None and answer.hop_count <= max_hops
    assert answer.data["success"] is False
    assert "SOORMA_MAX_HOPS" in answer.data["error"] and repr(plan.state) in answer.data["error"]
    # stopped before the runtime had to refuse anything: no dead letter, no loop notice
    assert harness.dead_letters() == []
    assert "agent.loop_detected" not in types(harness)
    [failed] = [e for e in harness.published if e.type == "plan.failed"]
    assert failed.data["result"] == answer.data
    # every request it sent was answered, and its last state sent none
    assert types(harness).count("ball.hit") == types(harness).count("ball.returned")
    assert types(harness).count("plan.state_changed") == types(harness).count("ball.returned")
    # ended, so no stall sweep reports it
    assert harness.sweep_stalled().reported == []


@pytest.mark.parametrize("states", [1, 3])
def test_a_deep_plan_just_within_the_limit_completes(
    soorma_moto: Any, monkeypatch: pytest.MonkeyPatch, states: int
) -> None:
    """Goal at hop 1; each state is a round trip of 2 hops; the answer follows the last reply:
    the deepest event is the answer, at hop 2 * states + 2."""
    monkeypatch.setenv("SOORMA_MAX_HOPS", str(2 * states + 2))
    court = Court(chain(states))
    harness = court.play(soorma_moto(*court.agents))
    assert plan_of(harness).status is PlanStatus.COMPLETED
    [answer] = court.answers
    assert answer.hop_count == 2 * states + 2
    assert harness.dead_letters() == []


@pytest.mark.parametrize("states", [1, 3])
def test_one_hop_less_fails_the_same_plan_in_its_last_state(
    soorma_moto: Any, monkeypatch: pytest.MonkeyPatch, states: int
) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", str(2 * states + 1))
    court = Court(chain(states))
    harness = court.play(soorma_moto(*court.agents))
    plan = plan_of(harness)
    assert (plan.state, plan.status) == (f"s{states - 1}", PlanStatus.FAILED)
    [answer] = court.answers
    assert answer.data["success"] is False and "SOORMA_MAX_HOPS" in answer.data["error"]
    assert harness.dead_letters() == []


# ---- state names ----------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_state_name_is_refused_when_the_definition_is_built(blank: str) -> None:
    with pytest.raises(ValueError, match=rf"state name {blank!r} is blank"):
        PlanDefinition(
            name="blank",
            initial="serve",
            states=[
                State("serve", actions=[HIT], default_next=blank),
                State(blank, actions=[HIT], default_next="won"),
                State("won", terminal=PlanStatus.COMPLETED),
            ],
        )


def test_a_default_next_of_no_state_is_refused_even_when_empty() -> None:
    with pytest.raises(ValueError, match=r"state 'serve' moves to unknown state\(s\) \[''\]"):
        PlanDefinition(
            name="blank",
            initial="serve",
            states=[
                State("serve", actions=[HIT], default_next=""),
                State("won", terminal=PlanStatus.COMPLETED),
            ],
        )


# ---- conditions over missing values, in a running plan --------------------------------------


def approval(condition: str) -> PlanDefinition:
    return PlanDefinition(
        name="approval",
        initial="ask",
        states=[
            State(
                "ask",
                actions=[HIT],
                transitions=[Transition("approved", condition)],
                default_next="refused",
            ),
            State("approved", terminal=PlanStatus.COMPLETED),
            State("refused", terminal=PlanStatus.FAILED),
        ],
    )


@pytest.mark.parametrize(
    ("condition", "reply", "goal", "status"),
    [
        ("data.approved_by == goal.manager", {}, {}, PlanStatus.FAILED),
        ("data.approved_by != goal.manager", {}, {}, PlanStatus.FAILED),
        ("data.approved_by in [goal.manager, goal.deputy]", {}, {}, PlanStatus.FAILED),
        (
            "data.approved_by == goal.manager",
            {"approved_by": "bo"},
            {"manager": "bo"},
            PlanStatus.COMPLETED,
        ),
        ("data.approved_by is None", {}, {}, PlanStatus.COMPLETED),
        ("data.approved_by == null", {}, {}, PlanStatus.COMPLETED),
    ],
)
def test_a_transition_over_missing_values_is_taken_only_as_documented(
    soorma_moto: Any,
    condition: str,
    reply: dict[str, Any],
    goal: dict[str, Any],
    status: PlanStatus,
) -> None:
    court = Court(approval(condition), lambda e: reply)
    harness = court.play(soorma_moto(*court.agents), **goal)
    plan = plan_of(harness)
    assert plan.status is status
    assert plan.state == ("approved" if status is PlanStatus.COMPLETED else "refused")
    assert len(court.answers) == 1
    assert harness.dead_letters() == []
