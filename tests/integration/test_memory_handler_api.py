"""The documents' `WorkflowState` forms, the eraser's refusal of a bad tenant id, and isolation
inside a handler (issue 11)."""

from __future__ import annotations

import asyncio

import pytest

from soorma.memory import MemoryClient, WorkflowState
from soorma_common.errors import PermanentError

# ---- the documents' API -------------------------------------------------------------------


def test_the_documents_workflow_state_forms(soorma_moto) -> None:
    soorma_moto()
    from soorma import WorkflowState as Exported

    assert Exported is WorkflowState
    state = Exported(MemoryClient("acme", "ada"), "p-doc", "acme", "ada")
    assert asyncio.run(state.increment("n", delta=3)) == 3
    assert asyncio.run(state.extend("xs", [1, 2])) == [1, 2]
    assert asyncio.run(state.update_dict("draft", {"draft_text": "Tea"})) == {"draft_text": "Tea"}
    asyncio.run(state.set("nothing", None))
    assert asyncio.run(state.has("nothing")) is False  # a stored None is no value
    workflow_state = asyncio.run(state.load())
    assert workflow_state["draft"]["draft_text"] == "Tea"
    assert asyncio.run(state.delete("n")) is True


def test_the_eraser_refuses_a_tenant_with_the_key_separator() -> None:
    from soorma.memory import MemoryEraser, MemoryTable

    eraser = MemoryEraser(MemoryTable("never-called", ttl_seconds=1, client=object()))
    with pytest.raises(PermanentError, match="'a#b' cannot be used in a memory key"):
        eraser.forget_tenant("a#b")


# ---- isolation inside a handler -----------------------------------------------------------


def test_inside_a_handler_no_client_reaches_another_tenant(soorma_moto) -> None:
    from soorma.memory.scope import MemoryScope, handling
    from soorma_common.errors import TenantIsolationError

    soorma_moto()
    memory = MemoryClient("acme", "ada")
    with pytest.raises(AttributeError):
        memory.scope = MemoryScope("globex", "eve")  # type: ignore[misc]
    assert not hasattr(memory, "table")  # no raw table on the client
    with handling("acme", "ada"):
        assert MemoryClient("acme", "ada").tenant_id == "acme"  # the handled event's: fine
        with pytest.raises(TenantIsolationError, match="'globex'"):
            MemoryClient("globex", "eve")
        with pytest.raises(TenantIsolationError):
            MemoryClient("acme", "bob")
    assert MemoryClient("globex", "eve").tenant_id == "globex"  # operators' scripts: fine


def test_the_action_history_is_outside_the_working_memory_keys(soorma_moto) -> None:
    soorma_moto()
    state = WorkflowState(MemoryClient("acme", "ada"), "p")
    asyncio.run(state.record_action("web.search"))
    asyncio.run(state.set("_actions", []))  # a user key like any other
    assert asyncio.run(state.get_action_history()) == ["web.search"]
