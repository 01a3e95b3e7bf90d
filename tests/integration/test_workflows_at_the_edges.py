"""Tasks, fan-in groups, plans and stall sweeps at their edges, on moto.

What AWS allows (DynamoDB's 400 KB items, 38-digit numbers and 1 MB Query pages, EventBridge's
256 KB events) and what a hostile or careless caller (or an LLM) sends: groups of hundreds of
replies of one type, a group of nothing, replies twice, late, from elsewhere or too big to store,
numbers DynamoDB cannot hold, a second round of delegation, plans that loop, conditions over
missing data, state names that look like keys, the last two replies at the same instant.

Every reply travels as on AWS (PutEvents into the moto bus, the real rules, SQS records), except
in the tests that drive one fan-in group directly with many replies or from threads: they call
`TaskContext` exactly as a result handler does, with the handled reply as its context.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from soorma import Planner, Tool, Worker
from soorma.bus import BusClient
from soorma.context import PlatformContext
from soorma.memory import MemoryClient, PlanStatus
from soorma.workflows import Action, PlanContext, PlanDefinition, State, TaskContext, Transition
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import NotFoundError

FACTS = EventTopic.BUSINESS_FACTS
REQUESTS = EventTopic.ACTION_REQUESTS
RESULTS = EventTopic.ACTION_RESULTS
TIMEOUT = {"success": False, "error": "timeout"}


def later(seconds: float = 31) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# ---- a worker that splits a job into parts and gathers them ---------------------------------


class Job:
    """`boss` asks `gatherer` for `job.split`; the gatherer delegates `parts` sub-requests
    `part.make` (replied with `part.done` by the tool `maker`, whose answer is `make(event)`)
    and, when all are in, answers the boss with what it gathered. With `rounds=2` the gatherer
    delegates a second round from the handler that completed the first (map, then reduce)."""

    def __init__(
        self,
        *,
        parts: int = 2,
        make: Any = None,
        timeout: float | None = None,
        rounds: int = 1,
        data: Any = None,
    ) -> None:
        self.answers: list[EventEnvelope] = []
        self.completions: list[dict[str, Any]] = []
        self.unknown = 0
        self.late = 0
        self.parts, self.rounds = parts, rounds
        make = make or (lambda event: {"n": event.data["n"]})
        data = data or (lambda n: {"n": n, "round": 1})
        boss = Worker(name="boss")
        gatherer = Worker(name="gatherer")
        maker = Tool(name="maker")
        job = self

        @boss.on_event("job.wanted", topic=FACTS)
        def wanted(event: EventEnvelope, context: Any) -> None:
            context.bus.request("job.split", event.data, response_event="job.done")

        @boss.on_result("job.done")
        def done(event: EventEnvelope, context: Any) -> None:
            job.answers.append(event)

        @gatherer.on_task("job.split")
        async def split(event: EventEnvelope, context: Any) -> None:
            task = TaskContext.for_context(context)
            await task.delegate_parallel(
                [("part.make", data(n), "part.done") for n in range(job.parts)],
                timeout=timeout,
            )

        @gatherer.on_result()
        async def gathered(event: EventEnvelope, context: Any) -> None:
            task = await TaskContext.restore(context)
            if task is None:
                job.unknown += 1
                return
            fan_in = await task.record_result()
            job.late += fan_in.late
            if not fan_in.complete:
                return
            results = task.results_by_type().get("part.done", [])
            job.completions.append({"count": len(results), "results": results})
            if len(job.completions) < job.rounds:
                await task.delegate("part.make", {"n": -1, "round": 2}, "part.done")
                return
            await task.complete({"count": len(results), "ns": [r.get("n") for r in results]})

        @maker.on_invoke("part.make", response_event="part.done")
        def make_part(event: EventEnvelope, context: Any) -> Any:
            return make(event)

        self.agents = [boss, gatherer, maker]

    def run(self, harness: Any, **data: Any) -> Any:
        harness.send("job.wanted", data, topic=FACTS, tenant_id="acme", user_id="ada")
        harness.run_until_idle(max_rounds=400)
        return harness


def requests_of(harness: Any, event_type: str = "part.make") -> list[EventEnvelope]:
    return [e for e in harness.published if e.type == event_type]


def reply_to(request: EventEnvelope, data: Any, **changes: Any) -> EventEnvelope:
    """A reply to `request` as its responder would put it."""
    attributes: dict[str, Any] = {
        "source": "soorma.maker",
        "type": request.response_event,
        "topic": RESULTS,
        "data": data,
        "correlation_id": request.correlation_id,
        "causation_id": request.id,
        "reply_to": request.reply_to,
        "tenant_id": request.tenant_id,
        "user_id": request.user_id,
    }
    attributes.update(changes)
    return EventEnvelope(**attributes)


def dead_reasons(harness: Any, agent: str) -> list[str]:
    return [d.reason or "" for d in harness.dead_letters(agent)]


# ---- many replies into one group ------------------------------------------------------------


def test_over_a_hundred_replies_of_one_type_complete_once_in_delegation_order(
    soorma_moto,
) -> None:
    """More replies than one DynamoDB transaction holds (100 items)."""
    job = Job(parts=110)
    harness = job.run(soorma_moto(*job.agents))
    assert len(job.completions) == 1
    [answer] = job.answers
    assert answer.data == {"count": 110, "ns": list(range(110))}
    assert harness.dead_letters() == []


def gatherer_context(reply: EventEnvelope, worker: Worker) -> PlatformContext:
    """The context a result handler of `worker` gets for `reply`."""
    return PlatformContext(
        worker, reply, BusClient(worker.name, f"soorma.{worker.name}", handled=reply)
    )


def delegate_directly(
    worker: Worker, task_id: str, chunks: int, per_chunk: int, *, data: Any = None
) -> list[EventEnvelope]:
    """Delegate `chunks * per_chunk` sub-requests into one task, from `chunks` handled events
    (one handler cannot publish them all: its outbox is one DynamoDB item); returns them."""
    sent: list[EventEnvelope] = []
    for chunk in range(chunks):
        request = EventEnvelope(
            source="soorma.boss",
            type="job.split",
            topic=REQUESTS,
            data={},
            tenant_id="acme",
            user_id="ada",
            response_event="job.done",
            reply_to="boss",
            correlation_id="wf-big",
        )
        context = gatherer_context(request, worker)
        task = TaskContext(context, task_id)
        asyncio.run(
            task.delegate_parallel(
                [
                    ("part.make", data or {"n": chunk * per_chunk + n}, "part.done")
                    for n in range(per_chunk)
                ]
            )
        )
        sent += [e for e in context.bus.outbox if e.type == "part.make"]
    return sent


def record_directly(
    worker: Worker, request: EventEnvelope, data: Any, reply_id: str | None = None
) -> Any:
    reply = reply_to(request, data, **({"id": reply_id} if reply_id else {}))
    context = gatherer_context(reply, worker)

    async def record() -> Any:
        task = await TaskContext.restore(context)
        assert task is not None
        return task, await task.record_result()

    return asyncio.run(record())


def test_a_group_whose_replies_fill_more_than_a_query_page_gives_them_all(soorma_moto) -> None:
    """24 replies of 50 KB: 1.2 MB, more than one 1 MB Query page; none is lost."""
    job = Job(parts=24, make=lambda event: {"n": event.data["n"], "pad": "x" * 50_000})
    job.run(soorma_moto(*job.agents))
    [completion] = job.completions
    assert [r["n"] for r in completion["results"]] == list(range(24))
    assert [a.data for a in job.answers] == [{"count": 24, "ns": list(range(24))}]


def test_more_sub_requests_than_one_handler_can_store_is_refused_at_once(soorma_moto) -> None:
    job = Job(parts=1000)
    harness = job.run(soorma_moto(*job.agents))
    assert requests_of(harness) == []  # nothing half-sent
    [split] = [h for h in harness.handlings("gatherer") if h.event_type == "job.split"]
    assert split.outcome == "dead-lettered" and split.receive_count == 1
    assert "OutboxNotStorableError" in (split.reason or "") and "400 KB" in (split.reason or "")


# ---- a group of nothing, replies twice, late, from elsewhere --------------------------------


def test_delegating_nothing_is_a_permanent_error_not_retried(soorma_moto) -> None:
    job = Job(parts=0)
    harness = job.run(soorma_moto(*job.agents))
    assert job.answers == []
    splits = [h for h in harness.handlings("gatherer") if h.event_type == "job.split"]
    # refused at once, as any caller error: not received MAX_RECEIVE_COUNT times first
    assert [h.outcome for h in splits] == ["dead-lettered"]


def test_the_same_sub_reply_delivered_twice_is_counted_once(soorma_moto) -> None:
    job = Job(parts=2, make=lambda event: None)  # the maker answers nothing by itself
    harness = soorma_moto(*job.agents)
    job.run(harness)
    first, second = requests_of(harness)
    duplicate = reply_to(first, {"n": 0})
    harness.put(duplicate, duplicate)
    harness.run_until_idle()
    harness.put(duplicate)
    harness.run_until_idle()
    assert job.completions == []  # one of two parts: not complete
    harness.put(reply_to(second, {"n": 1}))
    harness.run_until_idle()
    assert [c["count"] for c in job.completions] == [2]
    assert [a.data for a in job.answers] == [{"count": 2, "ns": [0, 1]}]


def test_two_different_replies_to_one_sub_request_deliver_the_first_only(soorma_moto) -> None:
    job = Job(parts=2, make=lambda event: None)
    harness = soorma_moto(*job.agents)
    job.run(harness)
    first, second = requests_of(harness)
    harness.put(reply_to(first, {"n": "first"}))
    harness.run_until_idle()
    harness.put(reply_to(first, {"n": "second"}))  # another answer to the same request
    harness.run_until_idle()
    harness.put(reply_to(second, {"n": 1}))
    harness.run_until_idle()
    assert [a.data for a in job.answers] == [{"count": 2, "ns": ["first", 1]}]
    assert harness.dead_letters("gatherer") == []


def test_a_reply_after_the_group_completed_at_its_deadline_changes_nothing(soorma_moto) -> None:
    job = Job(parts=2, make=lambda event: None, timeout=30)
    harness = soorma_moto(*job.agents)
    job.run(harness)
    first, second = requests_of(harness)
    harness.put(reply_to(first, {"n": 0}))
    harness.run_until_idle()
    assert harness.fire_deadlines(later()) == 2
    harness.run_until_idle()
    assert [a.data for a in job.answers] == [{"count": 2, "ns": [0, None]}]
    assert job.completions[0]["results"][1] == TIMEOUT
    harness.put(reply_to(second, {"n": 1}))  # the real answer, too late
    harness.run_until_idle()
    assert len(job.answers) == 1 and len(job.completions) == 1
    assert harness.dead_letters() == []


def test_a_reply_after_the_task_was_failed_by_hand_is_late_and_acknowledged(soorma_moto) -> None:
    job = Job(parts=2, make=lambda event: None)
    gatherer = job.agents[1]

    @gatherer.on_event("job.abandoned", topic=FACTS)
    async def abandon(event: EventEnvelope, context: Any) -> None:
        task = await TaskContext.load(context, event.data["task_id"])
        await task.fail("gave up")

    harness = soorma_moto(*job.agents)
    job.run(harness)
    [split] = requests_of(harness, "job.split")
    first, second = requests_of(harness)
    harness.put(reply_to(first, {"n": 0}))
    harness.send(
        "job.abandoned",
        {"task_id": split.id},
        topic=FACTS,
        tenant_id="acme",
        user_id="ada",
        correlation_id=split.correlation_id,
    )
    harness.run_until_idle()
    harness.put(reply_to(second, {"n": 1}))
    harness.run_until_idle()
    assert [a.data for a in job.answers] == [{"success": False, "error": "gave up"}]
    assert job.completions == [] and job.late == 1
    assert harness.dead_letters() == []


@pytest.mark.parametrize(
    "changes",
    [{"tenant_id": "globex"}, {"user_id": "eve"}, {"correlation_id": "another-workflow"}],
    ids=["other-tenant", "other-user", "other-workflow"],
)
def test_a_reply_from_outside_the_tasks_workflow_never_counts(
    soorma_moto, changes: dict[str, Any]
) -> None:
    job = Job(parts=1, make=lambda event: None)
    harness = soorma_moto(*job.agents)
    job.run(harness)
    [request] = requests_of(harness)
    harness.put(reply_to(request, {"n": "forged"}, **changes))
    harness.run_until_idle()
    assert job.completions == [] and job.answers == []
    assert any(
        "Forged" in r or "tenant" in r or "correlation" in r or "user" in r
        for r in dead_reasons(harness, "gatherer")
    )
    harness.put(reply_to(request, {"n": 0}))  # the real reply still wins the request
    harness.run_until_idle()
    assert [a.data for a in job.answers] == [{"count": 1, "ns": [0]}]


def test_restoring_or_loading_a_task_that_does_not_exist(soorma_moto) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    stray = EventEnvelope(
        source="soorma.maker",
        type="part.done",
        topic=RESULTS,
        data={},
        causation_id="no-such-request",
        reply_to="gatherer",
        tenant_id="acme",
        user_id="ada",
    )
    context = gatherer_context(stray, worker)
    assert asyncio.run(TaskContext.restore(context)) is None
    with pytest.raises(NotFoundError, match="no-such-task"):
        asyncio.run(TaskContext.load(context, "no-such-task"))
    with pytest.raises(NotFoundError):  # recording into a task that delegated nothing
        asyncio.run(TaskContext.for_context(context).record_result())


# ---- sizes and numbers ------------------------------------------------------------------------


def nested_rows(json_bytes: int) -> list[Any]:
    """JSON of about `json_bytes` that DynamoDB counts at ~1.9 times that (nested lists)."""
    return [[[[0]]]] * (json_bytes // 8)


def test_a_reply_the_bus_took_but_dynamodb_cannot_hold_still_ends_the_task(soorma_moto) -> None:
    """The reply is 240 KB of JSON (under the 256 KB event limit) and ~450 KB as DynamoDB
    counts it: the task must still end (its deadline at the latest), not wait forever."""
    job = Job(
        parts=2,
        timeout=30,
        make=lambda e: {"n": e.data["n"], "rows": nested_rows(240_000) if e.data["n"] == 1 else []},
    )
    harness = job.run(soorma_moto(*job.agents))
    harness.fire_deadlines(later())
    harness.run_until_idle()
    assert len(job.answers) == 1


def test_a_reply_with_a_number_dynamodb_cannot_hold_is_gathered_intact(soorma_moto) -> None:
    big = 10**40  # valid JSON, 41 digits: DynamoDB numbers hold 38
    job = Job(parts=1, make=lambda event: {"n": big})
    harness = job.run(soorma_moto(*job.agents))
    assert [a.data for a in job.answers] == [{"count": 1, "ns": [big]}]
    assert harness.dead_letters() == []


# ---- a second round ----------------------------------------------------------------------------


def test_a_second_round_delegated_after_the_first_completed_completes_too(soorma_moto) -> None:
    job = Job(parts=2, rounds=2)
    job.run(soorma_moto(*job.agents))
    assert [c["count"] for c in job.completions] == [2, 3]
    assert [a.data for a in job.answers] == [{"count": 3, "ns": [0, 1, -1]}]


def test_a_delegation_near_the_event_limit_is_sent_and_answered(soorma_moto) -> None:
    job = Job(parts=1, data=lambda n: {"n": n, "blob": "x" * 250_000})
    job.run(soorma_moto(*job.agents))
    assert [a.data for a in job.answers] == [{"count": 1, "ns": [0]}]


def test_a_delegation_over_the_event_limit_is_refused_at_once_naming_it(soorma_moto) -> None:
    job = Job(parts=1, data=lambda n: {"n": n, "blob": "x" * 270_000})
    harness = job.run(soorma_moto(*job.agents))
    assert job.answers == [] and requests_of(harness) == []
    [split] = [h for h in harness.handlings("gatherer") if h.event_type == "job.split"]
    assert split.outcome == "dead-lettered" and split.receive_count == 1
    assert "EventTooLargeError" in (split.reason or "") and "262144" in (split.reason or "")


# ---- whose task is it ---------------------------------------------------------------------------


def test_two_tenants_events_with_the_same_id_each_get_their_task(soorma_moto) -> None:
    """CloudEvents makes `source` + `id` unique, not `id` alone: two producers (here two
    tenants' front ends) may both send an event `order-1`; each tenant's task must run."""
    job = Job(parts=1, make=lambda event: None)
    harness = soorma_moto(*job.agents)
    for tenant in ("acme", "globex"):
        harness.put(
            EventEnvelope(
                id="order-1",
                source=f"soorma.{tenant}-shop",
                type="job.split",
                topic=REQUESTS,
                data={},
                tenant_id=tenant,
                user_id="ada",
            )
        )
        harness.run_until_idle()
    assert sorted(e.tenant_id for e in requests_of(harness)) == ["acme", "globex"]


def test_the_last_two_replies_at_the_same_instant_complete_the_group_once(
    soorma_moto, monkeypatch
) -> None:
    from tests.integration.test_memory_concurrency import serialize_item_writes

    soorma_moto()
    serialize_item_writes(monkeypatch)
    worker = Worker(name="gatherer")
    for group in range(8):
        first, second = delegate_directly(worker, f"race-{group}", 1, 2)
        start = threading.Barrier(2)
        outcomes: list[bool] = []

        def deliver(request: EventEnvelope, start: Any = start, out: Any = outcomes) -> None:
            reply = reply_to(request, {"n": request.data["n"]})
            context = gatherer_context(reply, worker)

            async def record() -> bool:
                task = await TaskContext.restore(context)
                assert task is not None
                start.wait()
                return (await task.record_result()).complete

            out.append(asyncio.run(record()))

        threads = [threading.Thread(target=deliver, args=(r,)) for r in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == [False, True], group


# ---- plans -------------------------------------------------------------------------------------


def rally(definition: PlanDefinition, answer: Any = None) -> list[Any]:
    """A planner `coach` running `definition` for the goal `rally.play`, and a tool `wall`
    that answers `ball.hit` with `answer(event)` (default: no point)."""
    coach = Planner(name="coach")
    wall = Tool(name="wall")

    @coach.on_goal("rally.play")
    async def play(event: EventEnvelope, context: Any) -> None:
        await PlanContext.start(context, definition)

    @coach.on_result()
    async def returned(event: EventEnvelope, context: Any) -> None:
        plan = await PlanContext.restore(context, definition)
        if plan is not None:
            await plan.advance(event)

    @wall.on_invoke("ball.hit")
    def hit(event: EventEnvelope, context: Any) -> Any:
        return (answer or (lambda e: {"point": False}))(event)

    return [coach, wall]


def play(harness: Any, **data: Any) -> EventEnvelope:
    goal = harness.send(
        "rally.play",
        data,
        topic=REQUESTS,
        source="soorma.court",
        tenant_id="club",
        user_id="ada",
        response_event="rally.played",
        reply_to="desk",
    )
    harness.run_until_idle()
    return goal


def plan_of(harness: Any) -> Any:
    [started] = [e for e in harness.published if e.type == "plan.started"]
    return asyncio.run(MemoryClient("club", "ada").get_plan(started.data["plan_id"]))


def hit(key: str = "ball.returned") -> Action:
    return Action("ball.hit", "ball.returned", key=key)


PING_PONG = PlanDefinition(
    name="ping-pong",
    initial="ping",
    states=[
        State(
            "ping",
            actions=[hit()],
            transitions=[Transition(to="won", when="data.point")],
            default_next="pong",
        ),
        State(
            "pong",
            actions=[hit()],
            transitions=[Transition(to="won", when="data.point")],
            default_next="ping",
        ),
        State("won", terminal=PlanStatus.COMPLETED),
    ],
)


def test_a_plan_looping_between_states_is_stopped_by_the_hop_limit(
    soorma_moto, monkeypatch
) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", "12")
    harness = soorma_moto(*rally(PING_PONG))
    play(harness)
    moves = [e for e in harness.published if e.type == "plan.state_changed"]
    assert 3 <= len(moves) <= 6  # bounded: each move is a request and a reply, 2 hops
    # the plan stops itself before its requests would be refused: nothing to dead-letter, no
    # loop notice, and no plan left behind for the stall sweep
    assert dead_reasons(harness, "wall") == []
    assert [e.type for e in harness.published].count("agent.loop_detected") == 0
    assert harness.sweep_stalled(later(3600)).reported == []


def test_a_plan_stopped_by_the_hop_limit_fails_and_answers_its_requester(
    soorma_moto, monkeypatch
) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", "12")
    harness = soorma_moto(*rally(PING_PONG))
    play(harness)
    assert plan_of(harness).status is PlanStatus.FAILED
    [answer] = [e for e in harness.published if e.type == "rally.played"]
    assert answer.data["success"] is False and "SOORMA_MAX_HOPS" in answer.data["error"]


def missing_data_plan(*conditions: str) -> PlanDefinition:
    return PlanDefinition(
        name="missing",
        initial="serve",
        states=[
            State(
                "serve",
                actions=[hit()],
                transitions=[Transition(to="won", when=c) for c in conditions],
            ),
            State("won", terminal=PlanStatus.COMPLETED),
        ],
    )


def played(harness: Any) -> list[Any]:
    return [e.data for e in harness.published if e.type == "rally.played"]


def test_a_condition_over_missing_data_is_false_and_without_default_fails_the_plan(
    soorma_moto,
) -> None:
    definition = missing_data_plan(
        'results["no.such"].deep[3].x > 1', "-data.point < 0 or goal[0] in data", "data.point == 1"
    )
    harness = soorma_moto(*rally(definition, lambda e: {"point": None}))
    play(harness)
    assert plan_of(harness).status is PlanStatus.FAILED
    error = "no transition from 'serve' on 'ball.returned'"
    assert played(harness) == [{"success": False, "error": error}]
    assert harness.dead_letters() == []


@pytest.mark.parametrize(
    "condition",
    [
        "data.approved_by == goal.manager",
        "data.score >= goal.threshold",
        "data.approved_by in goal.managers",
    ],
)
def test_two_missing_values_do_not_satisfy_a_comparison(soorma_moto, condition: str) -> None:
    """The reply and the goal both lack the fields (an LLM left them out): nothing was
    approved, yet no comparison of the missing values may move the plan to `won`."""
    harness = soorma_moto(*rally(missing_data_plan(condition), lambda e: {"point": 1}))
    play(harness)
    assert plan_of(harness).status is PlanStatus.FAILED


def test_state_names_that_look_like_memory_keys_are_just_names(soorma_moto) -> None:
    names = ["META", "REPLY#00000000", "WM#ada#x", "T#other#PLAN#p"]
    definition = PlanDefinition(
        name="keys",
        initial=names[0],
        states=[
            *(State(a, actions=[hit()], default_next=b) for a, b in pairwise(names)),
            State(names[-1], terminal=PlanStatus.COMPLETED),
        ],
    )
    harness = soorma_moto(*rally(definition))
    play(harness)
    plan = plan_of(harness)
    assert (plan.state, plan.status) == (names[-1], PlanStatus.COMPLETED)
    moves = [
        (e.data["from_state"], e.data["to_state"])
        for e in harness.published
        if e.type == "plan.state_changed"
    ]
    assert moves == list(pairwise(names))


def test_an_empty_state_name_is_refused_or_runs_like_any_other(soorma_moto) -> None:
    """`PlanContext.state` reads an empty name as "no state yet", i.e. the initial state."""
    try:
        definition = PlanDefinition(
            name="blank",
            initial="serve",
            states=[
                State("serve", actions=[hit()], default_next=""),
                State("", actions=[hit()], default_next="won"),
                State("won", terminal=PlanStatus.COMPLETED),
            ],
        )
    except ValueError:
        return  # refused when built, naming the state: fine
    harness = soorma_moto(*rally(definition))
    play(harness)
    plan = plan_of(harness)
    assert (plan.state, plan.status) == ("won", PlanStatus.COMPLETED)


def test_a_goal_with_a_number_dynamodb_cannot_hold_still_starts_its_plan(soorma_moto) -> None:
    harness = soorma_moto(*rally(PING_PONG, lambda e: {"point": True}))
    play(harness, seed=10**40)
    assert plan_of(harness).goal_data == {"seed": 10**40}
    [answer] = [e for e in harness.published if e.type == "rally.played"]
    assert answer.data["state"] == "won"
