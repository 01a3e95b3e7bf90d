"""Memory at its limits (issue 11): no reply is dropped, a late reply to ended work is recorded
and acknowledged, stuck work can be failed, writes over 400 KB fail permanently and say why,
and the write cost of a reply or an action does not grow with the group or the history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from soorma import Planner, Worker, clients
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import PlatformContext
from soorma.memory import MemoryClient, PlanStatus, WorkflowState, keys
from soorma.memory.scope import table_of
from soorma.memory.sizing import ITEM_LIMIT_BYTES, ItemTooLargeError, write_units
from soorma.memory.table import now_iso
from soorma.workflows import (
    Action,
    PlanContext,
    PlanDefinition,
    State,
    TaskContext,
    fanin,
)
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import PermanentError

BIG = "x" * (ITEM_LIMIT_BYTES + 1)


def request_event(event_type: str = "job.run") -> EventEnvelope:
    return EventEnvelope(
        source="soorma.client",
        type=event_type,
        topic=EventTopic.ACTION_REQUESTS,
        data={"n": 1},
        tenant_id="acme",
        user_id="ada",
        response_event="job.done",
        reply_to="client",
    )


def reply_event(request_id: str, reply_id: str, data: Any = None) -> EventEnvelope:
    return EventEnvelope(
        id=reply_id,
        source="soorma.helper",
        type="part.done",
        topic=EventTopic.ACTION_RESULTS,
        data={"from": reply_id} if data is None else data,
        causation_id=request_id,
        reply_to="gatherer",
        tenant_id="acme",
        user_id="ada",
    )


def context_of(agent: Any, event: EventEnvelope) -> PlatformContext:
    return PlatformContext(
        agent, event, BusClient(agent.name, f"soorma.{agent.name}", handled=event)
    )


def open_task(worker: Worker, parts: int) -> list[str]:
    """One task delegating `parts` sub-requests, at most 500 per handler call (what one handler
    may publish is bounded): later calls, for other events, join the same task."""
    task_id = request_event().id
    ids: list[str] = []
    for start in range(0, parts, 500):
        task = TaskContext(context_of(worker, request_event()), task_id)
        wanted = [("part.do", {"n": n}, "part.done") for n in range(start, min(parts, start + 500))]
        ids += asyncio.run(task.delegate_parallel(wanted))
    assert len(set(ids)) == parts
    return ids


def deliver(worker: Worker, request_id: str, reply_id: str, data: Any = None) -> Any:
    async def run() -> Any:
        task = await TaskContext.restore(
            context_of(worker, reply_event(request_id, reply_id, data))
        )
        assert task is not None
        return task, await task.record_result()

    return asyncio.run(run())


# ---- results are never dropped ------------------------------------------------------------


def test_twenty_replies_of_one_type_are_all_kept(soorma_moto) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, 20)
    outcomes = [deliver(worker, rid, f"reply-{n}") for n, rid in enumerate(ids)]

    task, _ = outcomes[-1]
    assert [f.complete for _, f in outcomes] == [False] * 19 + [True]
    assert list(task.results) == ids  # by request id, in delegation order
    by_type = task.results_by_type()
    assert list(by_type) == ["part.done"]
    assert by_type["part.done"] == [{"from": f"reply-{n}"} for n in range(20)]


def test_a_state_whose_actions_share_a_reply_type_needs_a_key_per_action() -> None:
    with pytest.raises(ValueError, match=r"share the results key\(s\) \['part.done'\]"):
        PlanDefinition(
            initial="making",
            states=[
                State("making", actions=[Action("part.make", "part.done")] * 3, default_next="ok"),
                State("ok", terminal=PlanStatus.COMPLETED),
            ],
        )


SHARED = PlanDefinition(
    name="parts",
    initial="making",
    states=[
        State(
            "making",
            actions=[Action("part.make", "part.done", key=k) for k in ("left", "right", "top")],
            default_next="made",
        ),
        State("made", terminal=PlanStatus.COMPLETED),
    ],
)


def start_plan(planner: Planner) -> tuple[PlanContext, list[str]]:
    goal = request_event("parts.make")
    context = context_of(planner, goal)
    plan = asyncio.run(PlanContext.start(context, SHARED))
    requests = [e.id for e in context.bus.outbox if e.type == "part.make"]
    return plan, requests


def advance(planner: Planner, request_id: str, reply_id: str) -> tuple[bool, PlanContext]:
    async def run() -> tuple[bool, PlanContext]:
        context = context_of(planner, reply_event(request_id, reply_id))
        plan = await PlanContext.restore(context, SHARED)
        assert plan is not None
        return await plan.advance(), plan

    return asyncio.run(run())


def test_a_plan_state_keeps_every_reply_of_a_shared_type(soorma_moto) -> None:
    soorma_moto()
    planner = Planner(name="maker")
    _, requests = start_plan(planner)
    assert len(requests) == 3
    moves = [advance(planner, rid, f"r-{n}") for n, rid in enumerate(requests)]

    assert [moved for moved, _ in moves] == [False, False, True]
    final = moves[-1][1]
    assert final.results == {
        "left": {"from": "r-0"},
        "right": {"from": "r-1"},
        "top": {"from": "r-2"},
    }
    assert final.status is PlanStatus.COMPLETED


# ---- late replies and stuck work ----------------------------------------------------------


@pytest.mark.parametrize("ending", ["fail", "finalize"])
def test_a_late_reply_to_an_ended_plan_is_recorded_and_acknowledged(
    soorma_moto, ending: str
) -> None:
    """`fail` is the API for a stuck plan; `finalize(status=FAILED)` was the documented
    workaround, after which a late reply raised `VersionConflictError` (retried, dead-lettered)."""
    soorma_moto()
    planner = Planner(name="maker")
    plan, requests = start_plan(planner)
    assert advance(planner, requests[0], "r-0")[0] is False
    operator = context_of(planner, request_event("ops.timeout"))

    async def end() -> None:
        loaded = await PlanContext.load(operator, SHARED, plan.plan_id)
        if ending == "fail":
            await loaded.fail("part 2 never came")
        else:
            await loaded.finalize({"success": False}, status=PlanStatus.FAILED)

    asyncio.run(end())
    assert advance(planner, requests[1], "r-late")[0] is False  # no VersionConflictError
    assert advance(planner, requests[1], "r-late")[0] is False  # its redelivery
    assert advance(planner, requests[2], "r-last")[0] is False  # the last reply: no move
    stored = asyncio.run(MemoryClient("acme", "ada").get_plan(plan.plan_id))
    assert stored is not None and stored.status is PlanStatus.FAILED
    assert stored.state == "making"


def test_a_stuck_task_is_failed_and_late_replies_never_complete_it(soorma_moto) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, 2)
    deliver(worker, ids[0], "reply-0")
    operator = context_of(worker, request_event("ops.timeout"))
    stuck = asyncio.run(TaskContext.load(operator, deliver(worker, ids[0], "reply-0")[0].task_id))
    asyncio.run(stuck.fail("part 2 timed out"))
    [failure] = [e for e in operator.bus.outbox if e.type == "job.done"]
    assert failure.data == {"success": False, "error": "part 2 timed out"}

    _, late = deliver(worker, ids[1], "reply-1")
    _, again = deliver(worker, ids[1], "reply-1")
    assert (late.recorded, late.complete, late.late) == (True, False, True)
    assert (again.recorded, again.complete) == (False, False)


# ---- sizes: permanent errors that say why -------------------------------------------------


def test_a_value_over_400_kb_is_a_permanent_error_naming_item_size_and_limit(soorma_moto) -> None:
    soorma_moto()
    memory = MemoryClient("acme", "ada")
    state = WorkflowState(memory, "p")
    for write in (
        lambda: state.set("draft", BIG),
        lambda: state.append("log", BIG),
        lambda: state.update_dict("d", {"k": BIG}),
        lambda: memory.log_interaction("bot", "user", BIG),
        lambda: state.record_action(BIG),
    ):
        with pytest.raises(ItemTooLargeError) as raised:
            asyncio.run(write())
        assert isinstance(raised.value, PermanentError)
        assert f"{ITEM_LIMIT_BYTES:,} bytes" in str(raised.value)
        assert "would be 4" in str(raised.value)  # its size, 409,6xx bytes and more


def test_a_list_grown_past_400_kb_is_a_permanent_error(soorma_moto) -> None:
    soorma_moto()
    state = WorkflowState(MemoryClient("acme", "ada"), "p")
    chunk = "y" * (150 * 1024)
    asyncio.run(state.append("log", chunk))
    with pytest.raises(ItemTooLargeError, match="400 KB"):
        for _ in range(3):
            asyncio.run(state.append("log", chunk))


def test_a_reply_over_400_kb_is_a_permanent_error(soorma_moto) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, 1)
    with pytest.raises(ItemTooLargeError, match="reply"):
        deliver(worker, ids[0], "big", {"text": BIG})


# ---- growth that stays linear: write units per call at 10, 1,000 and 10,000 ----------------


@contextmanager
def written_units() -> Iterator[list[int]]:
    """The write units (DynamoDB's rule: 1 per started KB of each item written, twice in a
    transaction) of the memory-table writes made inside the block, from the items as stored."""
    keys: list[tuple[dict[str, Any], int]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("PutItem", "UpdateItem"):
            item = params.get("Item") or params["Key"]
            keys.append(({"pk": item["pk"], "sk": item["sk"]}, 1))
        elif model.name == "TransactWriteItems":
            for op in params["TransactItems"]:
                ((_, body),) = op.items()
                item = body.get("Item") or body["Key"]
                keys.append(({"pk": item["pk"], "sk": item["sk"]}, 2))

    client = clients.client("dynamodb")
    units: list[int] = []
    client.meta.events.register("provide-client-params.dynamodb", hook)
    try:
        yield units
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", hook)
    table = settings().memory_table
    for key, factor in keys:
        stored = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        units.append(factor * write_units(stored))


SIZES = (10, 1_000, 10_000)


def seed_replies(
    memory: MemoryClient, group: dict[str, Any], ids: list[str], a: int, b: int
) -> None:
    """Store the replies to requests `a` to `b - 1` as `fanin.record` stores them."""
    table = table_of(memory)
    table.put_many(
        [
            {
                "pk": group["pk"],
                "sk": keys.reply_sk(n),
                **memory.item_stamp("reply"),
                "request_id": ids[n],
                "request_type": "part.do",
                "response_event": "part.done",
                "key": "part.done",
                "event_type": "part.done",
                "event_id": f"seeded-{n}",
                "data": {"from": f"seeded-{n}"},
                "at": now_iso(),
                "expires_at": table.expires_at(),
            }
            for n in range(a, b)
        ]
    )
    table.update(group["pk"], keys.META, "ADD received :n", values={":n": b - a})


@pytest.mark.slow  # 20,000 calls on moto: minutes on a loaded machine
def test_record_action_writes_the_same_at_10_1000_and_10000_actions(soorma_moto) -> None:
    soorma_moto()
    state = WorkflowState(MemoryClient("acme", "ada"), "p-long")
    measured = {}
    for count in range(1, SIZES[-1] + 1):
        if count in SIZES:
            with written_units() as units:
                assert asyncio.run(state.record_action("web.search")) == count
            measured[count] = sum(units)
        else:
            asyncio.run(state.record_action("web.search"))
    assert measured == {10: 2, 1_000: 2, 10_000: 2}  # the counter and the action, 1 unit each


@pytest.mark.slow  # 10,000 pointers and replies on moto
def test_a_fan_in_reply_writes_the_same_at_10_1000_and_10000_replies(soorma_moto) -> None:
    """The replies before each measured one are stored as `record` stores them, in batches:
    moto deep-copies the whole table on every TransactWriteItems (for its rollback), which
    makes 10,000 recorded replies quadratic in moto, not in DynamoDB."""
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, SIZES[-1] + 1)
    memory = MemoryClient("acme", "ada")
    group = fanin.find_group(memory, "gatherer", ids[0])
    assert group is not None
    measured, recorded = {}, 0
    for count in SIZES:
        seed_replies(memory, group, ids, recorded, count - 1)
        with written_units() as units:
            _, fan_in = deliver(worker, ids[count - 1], f"reply-{count}")
        assert fan_in.recorded and not fan_in.complete
        measured[count], recorded = sum(units), count
    # a transaction of the reply item and the group's count (2 x 1 unit each)
    assert measured == {10: 4, 1_000: 4, 10_000: 4}
