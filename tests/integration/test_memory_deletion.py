"""The right to be forgotten: per-user and per-tenant deletion remove every item of that user
or tenant (plans, sessions, working memory, task contexts, episodic memory) and nothing else.
Deletion is `MemoryEraser`'s (operators), never reachable from a handler's `context.memory`; its
scan is strongly consistent and resumable (segments, cursors)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest

from soorma import Worker
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import PlatformContext
from soorma.memory import MemoryClient, MemoryEraser, WorkflowState
from soorma.memory.deletion import InvalidErasureCursorError
from soorma.workflows import TaskContext
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
    assert kinds == {
        "plan",
        "session",
        "working",
        "action",
        "actions",
        "episode",
        "task",
        "request",
    }
    return everything


def test_forgetting_a_user_deletes_all_of_theirs_and_nothing_else(
    populated: list[dict[str, Any]],
) -> None:
    progress = MemoryEraser().forget_user("acme", "ada")
    deleted = progress.deleted
    assert progress.done and progress.cursor is None

    mine = [i for i in populated if owner(i) == ("acme", "ada")]
    assert deleted == len(mine) == 11  # the action history is 2 items: its counter and one action
    assert sorted(map(str, items())) == sorted(str(i) for i in populated if i not in mine)


def test_forgetting_a_tenant_deletes_all_of_its_users_and_nothing_else(
    populated: list[dict[str, Any]],
) -> None:
    deleted = MemoryEraser().forget_tenant("acme").deleted

    theirs = [i for i in populated if owner(i)[0] == "acme"]
    assert deleted == len(theirs) == 22
    remaining = items()
    assert sorted(map(str, remaining)) == sorted(str(i) for i in populated if i not in theirs)
    assert {owner(i) for i in remaining} == {("globex", "ada")}


def test_a_handler_cannot_reach_deletion(soorma_moto) -> None:
    """Any agent handling one event of a tenant must not be able to erase the tenant."""
    worker = Worker(name="anyone")
    seen: list[bool] = []

    @worker.on_event("x.happened", topic=EventTopic.BUSINESS_FACTS)
    def happened(event: EventEnvelope, context: Any) -> None:
        seen.append(any(hasattr(context.memory, n) for n in ("forget_user", "forget_tenant")))

    harness = soorma_moto(worker)
    harness.send("x.happened", {}, topic=EventTopic.BUSINESS_FACTS, tenant_id="acme", user_id="ada")
    harness.run_until_idle()
    assert seen == [False]


def test_the_erasure_scan_is_strongly_consistent(populated: list[dict[str, Any]]) -> None:
    scans: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        scans.append(params)

    from soorma import clients

    events = clients.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.Scan", hook)
    try:
        MemoryEraser().forget_user("acme", "ada")
    finally:
        events.unregister("provide-client-params.dynamodb.Scan", hook)
    assert scans and all(s["ConsistentRead"] is True for s in scans)


@pytest.mark.parametrize("forget", ["user", "tenant"])
def test_erasure_in_segments_resumes_from_cursors_and_misses_nothing(
    populated: list[dict[str, Any]], forget: str
) -> None:
    eraser = MemoryEraser()
    calls, deleted = 0, 0
    for segment in range(3):
        cursor = None
        while True:
            if forget == "user":
                progress = eraser.forget_user(
                    "acme",
                    "ada",
                    segment=segment,
                    total_segments=3,
                    cursor=cursor,
                    max_pages=1,
                    page_size=2,
                )
            else:
                progress = eraser.forget_tenant(
                    "acme",
                    segment=segment,
                    total_segments=3,
                    cursor=cursor,
                    max_pages=1,
                    page_size=2,
                )
            calls += 1
            deleted += progress.deleted
            if progress.done:
                break
            cursor = progress.cursor

    gone = (
        [i for i in populated if owner(i) == ("acme", "ada")]
        if forget == "user"
        else [i for i in populated if owner(i)[0] == "acme"]
    )
    assert calls > 3  # the pages were small: every segment was resumed at least once
    assert deleted == len(gone)
    assert sorted(map(str, items())) == sorted(str(i) for i in populated if i not in gone)


def test_a_cursor_resumes_only_the_erasure_it_came_from(populated: list[dict[str, Any]]) -> None:
    eraser = MemoryEraser()
    progress = eraser.forget_tenant("acme", max_pages=1, page_size=1)
    assert not progress.done
    with pytest.raises(InvalidErasureCursorError, match="same target, segment"):
        eraser.forget_tenant("globex", cursor=progress.cursor)
    with pytest.raises(InvalidErasureCursorError, match="not an erasure cursor"):
        eraser.forget_tenant("acme", cursor="{}")


def test_the_operator_command_forgets_a_user_then_a_tenant(
    populated: list[dict[str, Any]],
) -> None:
    from typer.testing import CliRunner

    from soorma_dev.cli import app

    table, log = settings().memory_table, settings().events_table
    assert log is not None
    runner = CliRunner()
    who = ["--tenant", "acme", "--user", "ada"]
    user = runner.invoke(app, ["memory", "forget", *who, "--table", table, "--events-table", log])
    assert user.exit_code == 0, user.output
    assert "deleted 11 item(s) of user 'ada' of tenant 'acme'" in user.output
    assert f"deleted 0 event(s) of user 'ada' of tenant 'acme' from the event log {log}" in (
        user.output
    )
    assert ("acme", "ada") not in {owner(i) for i in items()}

    tenant = runner.invoke(
        app, ["memory", "forget", "--tenant", "acme", "--table", table, "--memory-only"]
    )
    assert tenant.exit_code == 0, tenant.output
    assert "deleted 11 item(s) of tenant 'acme'" in tenant.output
    assert {owner(i) for i in items()} == {("globex", "ada")}
