"""Tenant isolation of the memory: tenant A (and another user of A) cannot read, list or
overwrite tenant B's plans, sessions, working memory or history through any public call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from soorma import Worker
from soorma.config import settings
from soorma.memory import MemoryClient, PlanStatus, WorkflowState
from soorma_common import EventTopic
from soorma_common.errors import NotFoundError, TenantIsolationError


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


def snapshot() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=settings().memory_table)["Items"]
    return sorted(items, key=json.dumps)


@pytest.fixture
def victim(soorma_moto) -> MemoryClient:
    """Tenant globex, user eve, with a session, a plan, working memory and history."""
    soorma_moto()
    b = MemoryClient("globex", "eve")
    run(b.create_session("s-b", name="secret project"))
    run(b.create_plan("goal.secret", {"k": "v"}, plan_id="p-b", session_id="s-b"))
    state = WorkflowState(b, "p-b")
    run(state.set("secret", "42"))
    run(state.increment("counter"))
    run(b.log_interaction("bot", "user", "private"))
    return b


FORGED_TENANT: list[tuple[str, Callable[[MemoryClient], Any]]] = [
    ("create_plan", lambda m: m.create_plan("g", plan_id="p-b", tenant_id="globex")),
    ("get_plan", lambda m: m.get_plan("p-b", tenant_id="globex")),
    ("list_plans", lambda m: m.list_plans(tenant_id="globex")),
    ("update_plan", lambda m: m.update_plan("p-b", status="failed", tenant_id="globex")),
    ("create_session", lambda m: m.create_session("s-b", tenant_id="globex")),
    ("get_session", lambda m: m.get_session("s-b", tenant_id="globex")),
    ("log_interaction", lambda m: m.log_interaction("bot", "u", "x", tenant_id="globex")),
]


@pytest.mark.parametrize(("name", "call"), FORGED_TENANT, ids=[n for n, _ in FORGED_TENANT])
def test_a_call_naming_another_tenant_is_refused(
    victim: MemoryClient, name: str, call: Callable[[MemoryClient], Any]
) -> None:
    before = snapshot()
    with pytest.raises(TenantIsolationError, match="bound to tenant 'acme'"):
        run(call(MemoryClient("acme", "ada")))
    assert snapshot() == before


def test_workflow_state_for_another_tenant_or_user_is_refused(victim: MemoryClient) -> None:
    a = MemoryClient("acme", "ada")
    with pytest.raises(TenantIsolationError, match="tenant 'globex' is refused"):
        WorkflowState(a, "p-b", "globex", "eve")
    with pytest.raises(TenantIsolationError, match="user 'eve' is refused"):
        WorkflowState(a, "p-b", "acme", "eve")


@pytest.mark.parametrize(("tenant", "user"), [("acme", "ada"), ("globex", "mallory")])
def test_forged_ids_read_nothing_and_overwrite_nothing(
    victim: MemoryClient, tenant: str, user: str
) -> None:
    """Another tenant, or another user of the same tenant, using the victim's ids."""
    m = MemoryClient(tenant, user)
    before = snapshot()
    assert run(m.get_plan("p-b")) is None
    assert run(m.get_session("s-b")) is None
    assert run(m.list_plans()) == []
    assert run(m.list_plans(session_id="s-b")) == []
    assert run(m.list_sessions()) == []
    assert run(m.get("p-b", "secret")) is None
    assert run(m.items("p-b")) == {}
    assert run(m.get_recent_history("bot")) == []
    with pytest.raises(NotFoundError):
        run(m.update_plan("p-b", status=PlanStatus.FAILED))
    with pytest.raises(NotFoundError):
        run(m.update_session("s-b", name="mine"))
    with pytest.raises(NotFoundError):
        run(m.delete_session("s-b"))
    assert run(m.delete_plan("p-b")) == 0
    assert run(m.clear("p-b")) == 0
    assert snapshot() == before

    # writes to the same plan id and keys land in the caller's own entries (the user and the
    # tenant are part of the key), never in the victim's
    state = WorkflowState(m, "p-b")
    run(state.delete("secret"))
    run(state.set("secret", "forged"))
    run(state.increment("counter", 5))
    run(state.append("list", "x"))
    assert run(state.to_dict()) == {"secret": "forged", "counter": 5, "list": ["x"]}
    assert run(WorkflowState(victim, "p-b").to_dict()) == {"secret": "42", "counter": 1}
    assert run(WorkflowState(victim, "p-b").get("secret")) == "42"
    assert run(WorkflowState(victim, "p-b").get("counter")) == 1
    assert run(victim.get_plan("p-b")).status is PlanStatus.RUNNING


def test_a_handler_naming_another_tenant_is_dead_lettered(soorma_moto) -> None:
    worker = Worker(name="nosy")
    touched: list[str] = []

    @worker.on_event("peek.requested", topic=EventTopic.BUSINESS_FACTS)
    async def peek(event, context) -> None:
        state = WorkflowState(context.memory, "p-b", event.data["tenant"], context.user_id)
        touched.append(await state.get("secret"))

    harness = soorma_moto(worker)
    harness.send(
        "peek.requested",
        {"tenant": "globex"},
        topic=EventTopic.BUSINESS_FACTS,
        tenant_id="acme",
        user_id="ada",
    )
    harness.run_until_idle()
    [dead] = harness.dead_letters("nosy")
    assert "tenant 'globex' is refused" in (dead.reason or "")
    assert touched == []


def test_another_user_cannot_write_into_a_users_plan_working_memory(victim: MemoryClient) -> None:
    """Mallory (same tenant) writes first under keys eve has not used yet: it neither shows in
    eve's working memory nor keeps eve from writing those keys herself."""
    mallory = WorkflowState(MemoryClient("globex", "mallory"), "p-b")
    run(mallory.set("injected", 1))
    run(mallory.set("next-step", "wire the money"))

    eve = WorkflowState(victim, "p-b")
    assert run(eve.to_dict()) == {"secret": "42", "counter": 1}
    assert run(eve.get("next-step")) is None
    assert run(eve.set("next-step", "review", expected_version=0)) == 1
    assert run(eve.get("next-step")) == "review"
    assert run(mallory.get("next-step")) == "wire the money"
    assert run(eve.cleanup()) == 3
    assert run(mallory.to_dict()) == {"injected": 1, "next-step": "wire the money"}


def test_a_handler_cannot_build_a_memory_client_for_another_tenant(soorma_moto) -> None:
    """The runtime marks the handled event's tenant and user around every handler call: a
    client built by hand for another tenant is refused, and the record dead-lettered."""
    worker = Worker(name="nosy")
    seen: list[str] = []

    @worker.on_event("peek.requested", topic=EventTopic.BUSINESS_FACTS)
    async def peek(event, context) -> None:
        other = WorkflowState(MemoryClient("globex", "eve"), "p-b")
        seen.append(await other.get("secret"))

    harness = soorma_moto(worker)
    harness.send("peek.requested", {}, topic=EventTopic.BUSINESS_FACTS, tenant_id="acme")
    harness.run_until_idle()
    [dead] = harness.dead_letters("nosy")
    assert "TenantIsolationError" in (dead.reason or "")
    assert "cannot be built while a handler of tenant 'acme' / user 'anonymous'" in (
        dead.reason or ""
    )
    assert seen == []
    assert MemoryClient("globex", "eve").tenant_id == "globex"  # outside a handler: an operator
