"""The right to be forgotten: per-user and per-tenant deletion remove every item of that user
or tenant (plans, sessions, working memory, task contexts, episodic memory) and nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest

from soorma import Worker
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import PlatformContext
from soorma.memory import MemoryClient, TaskContext, WorkflowState
from soorma_common import EventEnvelope, EventTopic


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


def items() -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    found, request = [], {"TableName": settings().memory_table}
    while True:
        page = client.scan(**request)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def owner(item: dict[str, Any]) -> tuple[str, str]:
    return item["tenant_id"]["S"], item["user_id"]["S"]


def populate(tenant: str, user: str) -> None:
    memory = MemoryClient(tenant, user)
    run(memory.create_session(f"s-{user}"))
    run(memory.create_plan("g", plan_id=f"p-{user}", session_id=f"s-{user}"))
    run(memory.create_plan("g", plan_id=f"p-2-{user}", parent_plan_id=f"p-{user}"))
    state = WorkflowState(memory, f"p-{user}")
    run(state.set("k", {"a": 1}))
    run(state.increment("n"))
    run(state.record_action("x.done"))
    run(memory.log_interaction("bot", "user", "hello"))
    request = EventEnvelope(
        source="soorma.client",
        type="job.run",
        topic=EventTopic.ACTION_REQUESTS,
        tenant_id=tenant,
        user_id=user,
        response_event="job.done",
    )
    bus = BusClient("gatherer", "soorma.gatherer", handled=request)
    task = TaskContext.for_context(PlatformContext(Worker(name="gatherer"), request, bus))
    run(task.delegate_parallel([("a.do", {}, "a.done"), ("b.do", {}, "b.done")]))


@pytest.fixture
def populated(soorma_moto) -> list[dict[str, Any]]:
    soorma_moto()
    for tenant, user in [("acme", "ada"), ("acme", "bob"), ("globex", "ada")]:
        populate(tenant, user)
    everything = items()
    kinds = {i["kind"]["S"] for i in everything if owner(i) == ("acme", "ada")}
    assert kinds == {"plan", "session", "working", "episode", "task", "request"}
    return everything


def test_forgetting_a_user_deletes_all_of_theirs_and_nothing_else(
    populated: list[dict[str, Any]],
) -> None:
    deleted = run(MemoryClient("acme", "ada").forget_user())

    mine = [i for i in populated if owner(i) == ("acme", "ada")]
    assert deleted == len(mine) == 10
    assert sorted(map(str, items())) == sorted(str(i) for i in populated if i not in mine)


def test_forgetting_a_tenant_deletes_all_of_its_users_and_nothing_else(
    populated: list[dict[str, Any]],
) -> None:
    deleted = run(MemoryClient("acme", "bob").forget_tenant())

    theirs = [i for i in populated if owner(i)[0] == "acme"]
    assert deleted == len(theirs) == 20
    remaining = items()
    assert sorted(map(str, remaining)) == sorted(str(i) for i in populated if i not in theirs)
    assert {owner(i) for i in remaining} == {("globex", "ada")}
