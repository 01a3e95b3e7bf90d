"""Plans, sessions, working memory and episodic memory on DynamoDB: storage only.

`context.memory` (a `MemoryClient`) is bound to the handled event's tenant and user.
`WorkflowState` is a plan's working memory as one object. `MemoryEraser` (operators only, not on
`context`) deletes a user's or a tenant's items. Orchestration built on this storage (tasks,
fan-in, plans as state machines) is `soorma.workflows`. See docs/memory.md.
"""

from soorma.memory.client import MemoryClient
from soorma.memory.deletion import (
    ErasureProgress,
    EventLogEraser,
    InvalidErasureCursorError,
    MemoryEraser,
)
from soorma.memory.keys import InvalidMemoryIdError
from soorma.memory.listing import InvalidListCursorError, Page
from soorma.memory.models import Interaction, Plan, PlanStatus, Session, WorkingMemoryEntry
from soorma.memory.scope import MemoryScope
from soorma.memory.table import MemoryTable
from soorma.memory.workflow_state import WorkflowState
from soorma.memory.working import WorkingMemoryTypeError

__all__ = [
    "ErasureProgress",
    "EventLogEraser",
    "Interaction",
    "InvalidErasureCursorError",
    "InvalidListCursorError",
    "InvalidMemoryIdError",
    "MemoryClient",
    "MemoryEraser",
    "MemoryScope",
    "MemoryTable",
    "Page",
    "Plan",
    "PlanStatus",
    "Session",
    "WorkflowState",
    "WorkingMemoryEntry",
    "WorkingMemoryTypeError",
]
