"""Fan-in and plans at DynamoDB's limits, on moto: replies and goals that the bus carried but
DynamoDB cannot hold as a map (over 400 KB as DynamoDB counts it, numbers of more than 38
digits) are kept as JSON text and read back intact; a second round of delegation into a task
completes exactly once; delegating nothing is a permanent error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from soorma import Worker
from soorma.memory import MemoryClient, WorkflowState, keys
from soorma.memory.scope import table_of
from soorma.memory.sizing import ITEM_LIMIT_BYTES, item_size
from soorma.memory.values import item_to_dynamo
from soorma.workflows import TaskContext
from soorma_common.errors import EmptyDelegationError, PermanentError, UnstorableNumberError
from tests.integration.test_memory_limits import context_of, deliver, open_task, request_event

#: 24,000 x `[[[[0]]]]`: ~240 KB of JSON (under the 256 KB event limit), ~450 KB as a map.
NESTED = {"rows": [[[[[0]]]]] * 24_000}
#: Valid JSON numbers that DynamoDB's numbers (38 digits, 1E-130 to 9.99E+125) cannot hold.
HUGE = {"big": 10**40, "digits": int("9" * 45), "far": 1e200, "near": -1e-200}


def group_meta(worker: Worker, task_id: str) -> dict[str, Any]:
    memory = MemoryClient("acme", "ada")
    found = table_of(memory).get(keys.task_pk("acme", worker.name, task_id), keys.META)
    assert found is not None
    return found


def reply_items(worker: Worker, task_id: str) -> list[dict[str, Any]]:
    memory = MemoryClient("acme", "ada")
    return table_of(memory).query(
        "pk = :pk AND begins_with(sk, :reply)",
        values={":pk": keys.task_pk("acme", worker.name, task_id), ":reply": keys.REPLY_PREFIX},
    )


def test_a_reply_dynamodb_counts_over_400_kb_is_kept_as_json_and_gathered_intact(
    soorma_moto,
) -> None:
    soorma_moto()
    assert item_size(item_to_dynamo({"data": NESTED})) > ITEM_LIMIT_BYTES  # as a map: too big
    worker = Worker(name="gatherer")
    ids = open_task(worker, 2)
    _, first = deliver(worker, ids[0], "reply-small", {"n": 0})
    task, last = deliver(worker, ids[1], "reply-big", NESTED)
    assert (first.complete, last.recorded, last.complete) == (False, True, True)
    assert task.results_by_type() == {"part.done": [{"n": 0}, NESTED]}
    small, big = reply_items(worker, task.task_id)
    assert small["data"] == {"n": 0} and "data_json" not in small  # a map, as before
    assert "data" not in big and len(big["data_json"]) < 256 * 1024


def test_numbers_dynamodb_cannot_hold_are_gathered_intact(soorma_moto) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, 1)
    task, fan_in = deliver(worker, ids[0], "reply-huge", HUGE)
    assert fan_in.complete
    assert task.results_by_type() == {"part.done": [HUGE]}
    _, redelivered = deliver(worker, ids[0], "reply-huge", HUGE)
    assert (redelivered.recorded, redelivered.complete) == (False, True)  # its handler's retry
    assert group_meta(worker, task.task_id)["received"] == 1


def test_a_second_round_completes_once_and_first_round_redeliveries_change_nothing(
    soorma_moto,
) -> None:
    soorma_moto()
    worker = Worker(name="gatherer")
    ids = open_task(worker, 2)
    _, first = deliver(worker, ids[0], "reply-0")
    task, last = deliver(worker, ids[1], "reply-1")
    assert (first.complete, last.complete) == (False, True)
    (round_two,) = asyncio.run(task.delegate_parallel([("part.do", {"n": -1}, "part.done")]))
    meta = group_meta(worker, task.task_id)
    assert (meta["expected"], meta["received"], meta["round"]) == (3, 2, 2)
    assert meta["earlier_claims"] == ["reply-1"] and "completed_by" not in meta

    _, duplicate = deliver(worker, ids[0], "reply-0")  # a round-1 reply delivered again
    assert (duplicate.recorded, duplicate.complete) == (False, False)
    # the handler that completed round 1, retried, sees it complete and delegates again: the
    # same derived request id, recognised, not added twice
    retried, again = deliver(worker, ids[1], "reply-1")
    assert (again.recorded, again.complete) == (False, True)
    assert asyncio.run(retried.delegate_parallel([("part.do", {"n": -1}, "part.done")])) == [
        round_two
    ]
    assert group_meta(worker, task.task_id)["expected"] == 3

    done, second = deliver(worker, round_two, "reply-2")
    assert (second.recorded, second.complete) == (True, True)
    assert [r["from"] for r in done.results_by_type()["part.done"]] == [
        "reply-0",
        "reply-1",
        "reply-2",
    ]
    _, late_duplicate = deliver(worker, ids[0], "reply-0")
    assert late_duplicate.complete is False
    assert group_meta(worker, task.task_id)["completed_by"] == "reply-2"


def test_delegating_nothing_is_a_permanent_error_naming_the_call(soorma_moto) -> None:
    soorma_moto()
    task = TaskContext.for_context(context_of(Worker(name="gatherer"), request_event()))
    with pytest.raises(EmptyDelegationError) as raised:
        asyncio.run(task.delegate_parallel([]))
    assert isinstance(raised.value, PermanentError)
    assert "delegate_parallel([])" in str(raised.value)


def test_a_goal_with_numbers_dynamodb_cannot_hold_round_trips_in_either_form(soorma_moto) -> None:
    soorma_moto()
    memory = MemoryClient("acme", "ada")
    table = table_of(memory)

    def stored() -> dict[str, Any]:
        item = table.get(keys.plan_pk("acme", "p-huge"), keys.META)
        assert item is not None
        return item

    async def run() -> None:
        plan = await memory.create_plan("g", HUGE, plan_id="p-huge")
        assert plan.goal_data == HUGE
        assert "goal_data" not in stored() and "goal_data_json" in stored()
        assert (await memory.create_plan("g", HUGE, plan_id="p-huge")).goal_data == HUGE  # retry
        read = await memory.get_plan("p-huge")
        assert read is not None and read.goal_data == HUGE
        [listed] = await memory.list_plans()
        assert listed.goal_data == HUGE

        assert (await memory.update_plan("p-huge", goal_data={"seed": 1})).goal_data == {"seed": 1}
        assert stored()["goal_data"] == {"seed": 1} and "goal_data_json" not in stored()
        updated = await memory.update_plan("p-huge", goal_data={"seed": 10**41})
        assert updated.goal_data == {"seed": 10**41} and "goal_data" not in stored()

    asyncio.run(run())


def test_working_memory_refuses_such_a_number_permanently_naming_where_it_is(
    soorma_moto,
) -> None:
    soorma_moto()
    state = WorkflowState(MemoryClient("acme", "ada"), "p")
    with pytest.raises(UnstorableNumberError) as raised:
        asyncio.run(state.set("draft", {"scores": [1, 10**40]}))
    assert isinstance(raised.value, PermanentError)
    assert "scores[1]" in str(raised.value) and "38 significant digits" in str(raised.value)
