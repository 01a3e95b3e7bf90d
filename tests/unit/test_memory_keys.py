"""Memory keys (every key begins with its tenant; no two tenants' keys can meet), the scope
check, and the plan status rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soorma.memory import InvalidMemoryIdError, MemoryScope, PlanStatus, keys
from soorma.memory.models import ALLOWED_STATUS_CHANGES, predecessors
from soorma_common.errors import TenantIsolationError

ids = st.text(min_size=1, max_size=40).filter(lambda s: "#" not in s)


@given(ids, ids, ids, ids)
def test_keys_begin_with_their_tenant_and_never_collide_across_tenants(
    tenant: str, other: str, first: str, second: str
) -> None:
    def task_pk(tenant_id: str, task_id: str) -> str:
        return keys.task_pk(tenant_id, "an-agent", task_id)

    makers = [keys.plan_pk, keys.session_pk, task_pk, keys.request_pk, keys.episodes_pk]
    for make in makers:
        assert make(tenant, first).startswith(keys.tenant_prefix(tenant))
        if tenant != other:
            assert make(tenant, first) != make(other, second)
            assert not make(other, second).startswith(keys.tenant_prefix(tenant))


@pytest.mark.parametrize("bad", ["", "a#b", "#", "x" * 257])
def test_ids_that_cannot_be_in_a_key_are_refused(bad: str) -> None:
    with pytest.raises(InvalidMemoryIdError):
        keys.plan_pk("acme", bad)
    with pytest.raises(InvalidMemoryIdError):
        keys.plan_pk(bad, "p")


def test_the_scope_refuses_another_tenant_or_user_and_accepts_its_own() -> None:
    scope = MemoryScope("acme", "ada")
    scope.check()
    scope.check("acme", "ada")
    with pytest.raises(TenantIsolationError, match="tenant 'globex' is refused"):
        scope.check("globex")
    with pytest.raises(TenantIsolationError, match="user 'bob' is refused"):
        scope.check("acme", "bob")


def test_the_status_rules_are_the_issue_s() -> None:
    assert {
        s.value: sorted(t.value for t in allowed) for s, allowed in ALLOWED_STATUS_CHANGES.items()
    } == {
        "running": ["completed", "failed", "paused"],
        "paused": ["running"],
        "completed": [],
        "failed": [],
    }
    assert set(predecessors(PlanStatus.RUNNING)) == {PlanStatus.RUNNING, PlanStatus.PAUSED}
    assert set(predecessors(PlanStatus.COMPLETED)) == {PlanStatus.RUNNING, PlanStatus.COMPLETED}
