"""Orchestration on top of memory: tasks, delegation and fan-in, plans as state machines.

- `TaskContext` (a worker's task): delegate sub-requests, gather their replies exactly once,
  reply to the requester.
- `PlanContext` (a planner's plan): a `PlanDefinition` of `State`s, `Action`s and `Transition`s
  run as a state machine over replies; `Planner.on_transition` handlers see each
  `PlanTransition`.
- `Condition`: the safe expression language of `Transition(when=...)`.

Everything here works through `context` (`soorma.context.PlatformContext`: the bus, the agent,
the handled event) and `context.memory` (`soorma.memory`, storage only). See docs/memory.md.
"""

from soorma.workflows.conditions import Condition, ConditionSyntaxError
from soorma.workflows.fanin import Delegation, FanIn, SubResult
from soorma.workflows.plan_context import PlanContext
from soorma.workflows.plan_definitions import (
    Action,
    PlanDefinition,
    PlanTransition,
    State,
    Transition,
    ask_for_input,
)
from soorma.workflows.tasks import TaskContext

__all__ = [
    "Action",
    "Condition",
    "ConditionSyntaxError",
    "Delegation",
    "FanIn",
    "PlanContext",
    "PlanDefinition",
    "PlanTransition",
    "State",
    "SubResult",
    "TaskContext",
    "Transition",
    "ask_for_input",
]
