"""The memory data model on moto: plans, sessions, working memory, episodic memory, TTL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from soorma.config import settings
from soorma.memory import (
    InvalidMemoryIdError,
    MemoryClient,
    PlanStatus,
    WorkflowState,
    WorkingMemoryTypeError,
)
from soorma_common.errors import (
    AlreadyExistsError,
    IllegalTransitionError,
    NotFoundError,
    VersionConflictError,
)


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


@pytest.fixture
def memory(soorma_moto) -> MemoryClient:
    soorma_moto()  # the platform's tables on moto, SOORMA_MEMORY_TABLE set
    return MemoryClient("acme", "ada")


def raw_items() -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    return client.scan(TableName=settings().memory_table)["Items"]


# ---- plans --------------------------------------------------------------------------------


def test_a_plan_has_the_design_patterns_fields(memory: MemoryClient) -> None:
    run(memory.create_session("s-1", name="Q1 launch"))
    plan = run(
        memory.create_plan(
            "research.market",
            {"region": "EU"},
            plan_id="p-1",
            session_id="s-1",
            parent_plan_id="root",
        )
    )
    assert plan.model_dump(
        include={
            "plan_id",
            "tenant_id",
            "user_id",
            "session_id",
            "goal_event",
            "goal_data",
            "status",
            "parent_plan_id",
        }
    ) == {
        "plan_id": "p-1",
        "tenant_id": "acme",
        "user_id": "ada",
        "session_id": "s-1",
        "goal_event": "research.market",
        "goal_data": {"region": "EU"},
        "status": PlanStatus.RUNNING,
        "parent_plan_id": "root",
    }
    assert plan.created_at == plan.updated_at
    assert run(memory.get_plan("p-1")) == plan


def test_plan_ids_are_unique_per_tenant_but_a_retried_create_returns_the_plan(
    memory: MemoryClient,
) -> None:
    first = run(memory.create_plan("goal.a", {"n": 1}, plan_id="p-1"))
    assert run(memory.create_plan("goal.a", {"n": 1}, plan_id="p-1")) == first
    with pytest.raises(AlreadyExistsError, match="'p-1' already exists in tenant 'acme'"):
        run(memory.create_plan("goal.b", {"n": 2}, plan_id="p-1"))
    # the same id in another tenant is another plan
    other = MemoryClient("globex", "ada")
    assert run(other.create_plan("goal.b", None, plan_id="p-1")).goal_event == "goal.b"
    assert run(memory.get_plan("p-1")).goal_event == "goal.a"


def test_session_ids_are_unique_per_tenant(memory: MemoryClient) -> None:
    run(memory.create_session("s-1"))
    with pytest.raises(AlreadyExistsError):
        run(MemoryClient("acme", "bob").create_session("s-1"))
    assert run(MemoryClient("globex", "bob").create_session("s-1")).tenant_id == "globex"


def test_plans_are_listed_by_session_by_parent_and_by_status(memory: MemoryClient) -> None:
    run(memory.create_session("s-1"))
    run(memory.create_plan("g", plan_id="a", session_id="s-1"))
    run(memory.create_plan("g", plan_id="b", session_id="s-1", parent_plan_id="a"))
    run(memory.create_plan("g", plan_id="c", parent_plan_id="a"))
    run(memory.create_plan("g", plan_id="d"))
    run(memory.set_plan_status("d", "completed"))
    run(memory.set_plan_status("b", PlanStatus.PAUSED))

    def ids(plans: list[Any]) -> set[str]:
        return {p.plan_id for p in plans}

    assert ids(run(memory.list_plans(session_id="s-1"))) == {"a", "b"}
    assert ids(run(memory.list_plans(parent_plan_id="a"))) == {"b", "c"}
    assert ids(run(memory.list_plans(status="running"))) == {"a", "c"}
    assert ids(run(memory.list_plans(status="completed"))) == {"d"}
    assert ids(run(memory.list_plans(session_id="s-1", status="paused"))) == {"b"}
    assert ids(run(memory.list_plans())) == {"a", "b", "c", "d"}
    assert ids(run(memory.list_plans(limit=2))) <= {"a", "b", "c", "d"}
    assert len(run(memory.list_plans(limit=2))) == 2


def test_plans_of_any_status_are_listed_newest_status_change_first(memory: MemoryClient) -> None:
    run(memory.create_plan("g", plan_id="old-running"))
    run(memory.create_plan("g", plan_id="new-completed"))
    run(memory.create_plan("g", plan_id="newest-paused"))
    run(memory.set_plan_status("newest-paused", PlanStatus.PAUSED))
    run(memory.set_plan_status("new-completed", PlanStatus.COMPLETED))  # the latest change

    listed = [p.plan_id for p in run(memory.list_plans())]
    assert listed == ["new-completed", "newest-paused", "old-running"]
    assert [p.plan_id for p in run(memory.list_plans(limit=1))] == ["new-completed"]
    assert [p.plan_id for p in run(memory.list_plans(limit=2))] == listed[:2]


def test_a_plan_in_an_unknown_session_is_refused(memory: MemoryClient) -> None:
    with pytest.raises(NotFoundError, match="no session 'nope'"):
        run(memory.create_plan("g", session_id="nope"))


def test_creating_a_plan_in_a_session_updates_its_last_interaction(memory: MemoryClient) -> None:
    session = run(memory.create_session("s-1", metadata={"topic": "tea"}))
    run(memory.create_plan("g", plan_id="p", session_id="s-1"))
    later = run(memory.get_session("s-1"))
    assert later.last_interaction > session.last_interaction
    assert later.metadata == {"topic": "tea"}
    assert [s.session_id for s in run(memory.list_sessions())] == ["s-1"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["completed"], True),
        (["failed"], True),
        (["paused", "running", "completed"], True),
        (["paused", "completed"], False),
        (["completed", "running"], False),
        (["failed", "paused"], False),
        (["paused", "failed"], False),
    ],
)
def test_plan_status_transitions_are_checked(
    memory: MemoryClient, path: list[str], allowed: bool
) -> None:
    run(memory.create_plan("g", plan_id="p"))
    *steps, last = path
    for status in steps:
        run(memory.set_plan_status("p", status))
    if allowed:
        assert run(memory.set_plan_status("p", last)).status == PlanStatus(last)
    else:
        before = steps[-1]
        with pytest.raises(IllegalTransitionError, match=f"illegal transition {before} -> {last}"):
            run(memory.set_plan_status("p", last))
        assert run(memory.get_plan("p")).status == PlanStatus(before)


def test_setting_the_status_a_plan_has_is_a_no_op_for_retries(memory: MemoryClient) -> None:
    run(memory.create_plan("g", plan_id="p"))
    run(memory.set_plan_status("p", "completed"))
    assert run(memory.set_plan_status("p", "completed")).status is PlanStatus.COMPLETED


def test_plan_compare_and_set_on_the_version(memory: MemoryClient) -> None:
    plan = run(memory.create_plan("g", plan_id="p"))
    updated = run(memory.update_plan("p", goal_data={"x": 1}, expected_version=plan.version))
    assert updated.version == plan.version + 1
    with pytest.raises(VersionConflictError, match="at version 2, expected 1"):
        run(memory.update_plan("p", goal_data={"x": 2}, expected_version=1))
    assert run(memory.get_plan("p")).goal_data == {"x": 1}


def test_updating_an_unknown_plan_is_not_found(memory: MemoryClient) -> None:
    with pytest.raises(NotFoundError):
        run(memory.set_plan_status("ghost", "completed"))


def test_ids_with_the_key_separator_are_refused(memory: MemoryClient) -> None:
    with pytest.raises(InvalidMemoryIdError, match="'#'"):
        run(memory.create_plan("g", plan_id="p#WM#x"))
    with pytest.raises(InvalidMemoryIdError):
        MemoryClient("acme#PLAN", "ada")


# ---- working memory -----------------------------------------------------------------------


def test_workflow_state_operations(memory: MemoryClient) -> None:
    state = WorkflowState(memory, "p-1", "acme", "ada")
    assert run(state.has("draft")) is False
    assert run(state.set("draft", {"title": "Tea", "words": 120, "score": 0.5})) == 1
    assert run(state.get("draft")) == {"title": "Tea", "words": 120, "score": 0.5}
    assert run(state.has("draft")) is True
    run(state.update_dict("draft", {"words": 130, "tags": ["a"]}))
    assert run(state.get("draft")) == {"title": "Tea", "words": 130, "score": 0.5, "tags": ["a"]}
    run(state.update_dict("fresh", {"k": 1}))
    assert run(state.get("fresh")) == {"k": 1}
    assert run(state.increment("count")) == 1
    assert run(state.increment("count", 5)) == 6
    assert run(state.increment("ratio", 0.25)) == 0.25
    assert run(state.append("log", "a", "b")) == ["a", "b"]  # the list, as the documents have it
    assert run(state.append("log", "c")) == ["a", "b", "c"]
    assert run(state.get("log")) == ["a", "b", "c"]
    assert run(state.record_action("web.search")) == 1
    assert run(state.record_action("content.draft")) == 2
    assert run(state.get_action_history()) == ["web.search", "content.draft"]
    assert run(state.delete("fresh")) is True
    assert run(state.delete("fresh")) is False
    assert run(state.get("fresh", "gone")) == "gone"
    assert set(run(state.to_dict())) == {"draft", "count", "ratio", "log"}  # no platform state
    assert run(state.cleanup()) == 4 + 3  # 4 entries, 2 actions and the action counter
    assert run(state.to_dict()) == {}


def test_working_memory_compare_and_set(memory: MemoryClient) -> None:
    state = WorkflowState(memory, "p-1")
    assert run(state.set("doc", "v1", expected_version=0)) == 1
    with pytest.raises(VersionConflictError, match="is at version 1, expected 0"):
        run(state.set("doc", "again", expected_version=0))
    entry = run(state.get_entry("doc"))
    assert run(state.set("doc", "v2", expected_version=entry.version)) == 2
    with pytest.raises(
        VersionConflictError, match="'doc' of plan 'p-1' is at version 2, expected 1"
    ):
        run(state.set("doc", "stale", expected_version=1))
    assert run(state.get("doc")) == "v2"


def test_atomic_operations_on_the_wrong_type_say_so(memory: MemoryClient) -> None:
    state = WorkflowState(memory, "p-1")
    run(state.set("name", "Ada"))
    with pytest.raises(WorkingMemoryTypeError):
        run(state.increment("name"))
    with pytest.raises(WorkingMemoryTypeError, match="not a dict"):
        run(state.update_dict("name", {"a": 1}))


def test_working_memory_and_episodic_items_carry_expires_at(memory: MemoryClient) -> None:
    before = int(time.time())
    state = WorkflowState(memory, "p-1")
    run(state.set("a", 1))
    run(state.increment("b"))
    run(state.append("c", 1))
    run(memory.log_interaction("bot", "user", "hello"))
    items = [i for i in raw_items() if i["kind"]["S"] in ("working", "episode")]
    assert len(items) == 4
    ttl = settings().memory_ttl_seconds
    for item in items:
        assert before + ttl <= int(item["expires_at"]["N"]) <= int(time.time()) + ttl


def test_the_ttl_is_configurable(soorma_moto, monkeypatch) -> None:
    soorma_moto()
    monkeypatch.setenv("SOORMA_MEMORY_TTL_SECONDS", "60")
    settings.cache_clear()
    run(MemoryClient("acme", "ada").set("p", "k", 1))
    [item] = raw_items()
    assert int(item["expires_at"]["N"]) <= int(time.time()) + 60


# ---- episodic memory ----------------------------------------------------------------------


def test_recent_history_is_per_agent_and_user_oldest_first(memory: MemoryClient) -> None:
    for n in range(5):
        run(memory.log_interaction("chatbot", "user", f"m{n}", metadata={"plan_id": "p"}))
    run(memory.log_interaction("other-bot", "user", "elsewhere"))
    run(MemoryClient("acme", "bob").log_interaction("chatbot", "user", "bob's"))
    history = run(memory.get_recent_history("chatbot", limit=3))
    assert [h.content for h in history] == ["m2", "m3", "m4"]
    assert {h.metadata["plan_id"] for h in history} == {"p"}
    assert [h.content for h in run(memory.get_recent_history("other-bot"))] == ["elsewhere"]


def test_an_interaction_logged_again_with_its_id_and_time_is_stored_once(
    memory: MemoryClient,
) -> None:
    at = datetime(2026, 11, 27, 1, 2, 3, tzinfo=UTC)
    for _ in range(2):  # a retried handler
        run(memory.log_interaction("bot", "user", "hi", interaction_id="evt-1", at=at))
    [entry] = run(memory.get_recent_history("bot"))
    assert (entry.interaction_id, entry.created_at) == ("evt-1", "2026-11-27T01:02:03.000000+00:00")
