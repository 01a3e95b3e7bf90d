"""Plans, sessions, working memory, task context and episodic memory on DynamoDB.

`context.memory` (a `MemoryClient`) is bound to the handled event's tenant and user. On top of
it: `WorkflowState` (a plan's working memory), `TaskContext` (delegation and fan-in for
workers), `PlanContext` (a plan as a state machine for planners). `MemoryEraser` (operators
only, not on `context`) deletes a user's or a tenant's items. See docs/memory.md.
"""

from soorma.memory.client import MemoryClient
from soorma.memory.conditions import Condition, ConditionSyntaxError
from soorma.memory.deletion import ErasureProgress, InvalidErasureCursorError, MemoryEraser
from soorma.memory.fanin import Delegation, FanIn, SubResult
from soorma.memory.keys import InvalidMemoryIdError
from soorma.memory.models import Interaction, Plan, PlanStatus, Session, WorkingMemoryEntry
from soorma.memory.planning import (
    Action,
    PlanContext,
    PlanDefinition,
    PlanTransition,
    State,
    Transition,
)
from soorma.memory.scope import MemoryScope
from soorma.memory.table import MemoryTable
from soorma.memory.tasks import TaskContext
from soorma.memory.workflow import WorkflowState
from soorma.memory.working import WorkingMemoryTypeError

__all__ = [
    "Action",
    "Condition",
    "ConditionSyntaxError",
    "Delegation",
    "ErasureProgress",
    "FanIn",
    "Interaction",
    "InvalidErasureCursorError",
    "InvalidMemoryIdError",
    "MemoryClient",
    "MemoryEraser",
    "MemoryScope",
    "MemoryTable",
    "Plan",
    "PlanContext",
    "PlanDefinition",
    "PlanStatus",
    "PlanTransition",
    "Session",
    "State",
    "SubResult",
    "TaskContext",
    "Transition",
    "WorkflowState",
    "WorkingMemoryEntry",
    "WorkingMemoryTypeError",
]
