"""Every memory snippet of the Design Patterns document runs as written, inside a handler on
moto (`documents/design_patterns_memory.md` holds the document's sections verbatim).

The document writes `create_plan`, `create_session` and `list_plans` bare, as the earlier SDK's
helpers; here they are `context.memory`'s, bound to the same names. What a snippet leaves to its
surroundings (`messages`, `timestamp`, an existing session) is given in `SURROUNDINGS`.
"""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path
from typing import Any

from soorma import Worker
from soorma.memory import Plan, PlanStatus
from soorma_common import EventTopic

DOCUMENT = Path(__file__).resolve().parent / "documents" / "design_patterns_memory.md"
#: Blocks that are not code to run, and why.
NOT_CODE = {
    "session.data = ": "the document's own counter-example (marked WRONG: 'This doesn't exist!')",
    "= UNIQUE": "notation for the uniqueness constraints; its list_plans call runs on its own",
}


def blocks() -> list[str]:
    text = DOCUMENT.read_text()
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def runnable() -> list[str]:
    found = [b for b in blocks() if not any(marker in b for marker in NOT_CODE)]
    found.append("plans = await list_plans(tenant_id=tenant_id, user_id=user_id)\n")
    return found


def test_the_document_has_the_blocks_this_test_runs() -> None:
    assert len(blocks()) == 11
    assert len(runnable()) == 10


def test_every_memory_snippet_of_the_design_patterns_document_runs(soorma_moto) -> None:
    worker = Worker(name="patterns")
    namespaces: list[dict[str, Any]] = []

    @worker.on_event("patterns.tried", topic=EventTopic.BUSINESS_FACTS)
    async def run_the_document(event, context) -> None:
        from soorma import WorkflowState

        await context.memory.create_session("research-project-123")  # the block assumes it
        namespace: dict[str, Any] = {
            "context": context,
            "tenant_id": context.tenant_id,
            "user_id": context.user_id,
            "WorkflowState": WorkflowState,
            "uuid": uuid,
            "create_plan": context.memory.create_plan,
            "create_session": context.memory.create_session,
            "list_plans": context.memory.list_plans,
            # SURROUNDINGS: what the snippets take from the code around them
            "messages": [{"role": "user", "content": "hi"}],
            "prefs": {"tone": "brief"},
            "timestamp": "20261203T0700",
            "message": "hi",
            "result": "The draft is ready.",
        }
        for number, block in enumerate(runnable(), 1):
            if "workflow_state[" in block:  # the vague-result check reads a loaded state
                state = WorkflowState(context.memory, namespace["plan_id"])
                await state.set("draft", {"draft_text": "Tea, brewed at 80 degrees."})
                namespace["workflow_state"] = await state.load()
            code = compile(
                block, f"design-patterns#{number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            awaited = eval(code, namespace)
            if awaited is not None:
                await awaited
        namespaces.append(namespace)

    harness = soorma_moto(worker)
    harness.send(
        "patterns.tried", {}, topic=EventTopic.BUSINESS_FACTS, tenant_id="acme", user_id="ada"
    )
    harness.run_until_idle()
    assert harness.dead_letters() == []
    [namespace] = namespaces
    plans = namespace["plans"]  # the last block: every plan of the user
    assert all(isinstance(p, Plan) and p.status is PlanStatus.RUNNING for p in plans)
    goals = {p.goal_event for p in plans}
    assert {"literature_review", "data_analysis", "write_report", "step1"} <= goals
    assert {"research.market", "design.prototype"} <= goals
    assert namespace["plan1"].parent_plan_id == namespace["main_plan_id"]
    assert namespace["result"] == "Tea, brewed at 80 degrees."  # the vague result replaced
