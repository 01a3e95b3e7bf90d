"""A choreography plan's own item in the memory table: its conversation, pending requests,
working memory and persisted circuit breakers (actions taken, tokens spent), with a version.

| item | pk | sk |
|---|---|---|
| choreography state | `T#<tenant>#PLAN#<plan_id>` (the plan's partition) | `AI#CHOREOGRAPHY` |

Every change is one conditional `UpdateItem` (`commit`): the version must be the one the
decision was made from (two results of one plan never produce two decisions from the same
state), and for a step that publishes an action or waits for input, `actions <= max_actions
- 1` (an action) and `tokens <= token_budget - step tokens`, so a step that would exceed a
limit is refused by DynamoDB (`LimitReached`), whichever Lambda container makes it. The same
write records the plan's progress in the open-work index (`soorma.memory.progress`), which the
stall sweep reads.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from soorma.memory import keys
from soorma.memory.progress import open_attributes, progress_update
from soorma.memory.table import ConditionFailed, Item, MemoryTable, now_iso

STATE_SK = "AI#CHOREOGRAPHY"

PlanPhase = Literal["running", "waiting", "completed", "failed"]
Limit = Literal["max_actions", "token_budget"]


class ChoreographyState(BaseModel):
    """The stored state of one choreography plan (plain JSON values)."""

    model_config = ConfigDict(extra="ignore")

    plan_id: str
    user_id: str
    version: int = 1
    status: PlanPhase = "running"
    actions: int = 0
    tokens: int = 0
    max_actions: int
    token_budget: int
    goal: dict[str, Any] = Field(default_factory=dict)
    #: The conversation so far (`Turn`s as JSON), ending with the model's last answer.
    turns: list[dict[str, Any]] = Field(default_factory=list)
    #: Requests awaiting their reply: request id -> {"event", "tool_use_id"}.
    pending: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: The plan's working memory: the latest reply data, by reply event type.
    memory: dict[str, Any] = Field(default_factory=dict)
    #: The last committed step: the trigger's event id and the events it published.
    last_step: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    result: Any = None

    @property
    def finished(self) -> bool:
        """Whether the plan ended (completed or failed)."""
        return self.status in ("completed", "failed")


class StateConflict(Exception):
    """The state changed since it was read (another decision was committed); `current` is it."""

    def __init__(self, current: ChoreographyState | None) -> None:
        super().__init__("the choreography state changed concurrently")
        self.current = current


class LimitReached(Exception):
    """DynamoDB refused a step: it would exceed `limit`; `current` is the state as it was."""

    def __init__(self, limit: Limit, current: ChoreographyState) -> None:
        super().__init__(f"the step would exceed {limit}")
        self.limit = limit
        self.current = current


class ChoreographyStore:
    """Reads and conditionally writes choreography states of one tenant."""

    def __init__(self, table: MemoryTable, tenant_id: str) -> None:
        self.table = table
        self.tenant_id = tenant_id

    def _pk(self, plan_id: str) -> str:
        return keys.plan_pk(self.tenant_id, plan_id)

    def load(self, plan_id: str) -> ChoreographyState | None:
        """The plan's state (strongly consistent read), or None."""
        item = self.table.get(self._pk(plan_id), STATE_SK)
        return None if item is None else ChoreographyState.model_validate(item)

    def create(self, state: ChoreographyState) -> ChoreographyState:
        """Store a new plan's state; when it exists already (a retried goal), return that."""
        now = now_iso()
        item: Item = {
            "pk": self._pk(state.plan_id),
            "sk": STATE_SK,
            "tenant_id": self.tenant_id,
            "kind": "choreography",
            "created_at": now,
            "updated_at": now,
            "expires_at": self.table.expires_at(),
            **state.model_dump(mode="json"),
        }
        if not state.finished:
            item.update(open_attributes(item["pk"], now))
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed as failed:
            state = ChoreographyState.model_validate(failed.current or item)
        self._hand_over_progress(state.plan_id)
        return state

    def _hand_over_progress(self, plan_id: str) -> None:
        """Take the plan record (`META`, created open by `create_plan`) out of the open-work
        index: this item records every step, so it alone tells whether the plan progresses.
        One write per plan (idempotent: a retried goal repeats it harmlessly)."""
        with contextlib.suppress(ConditionFailed):  # no plan record: nothing to hand over
            self.table.update(
                self._pk(plan_id),
                keys.META,
                progress_update(self._pk(plan_id), now_iso(), still_open=False).expression([]),
                condition="attribute_exists(pk)",
                returns="NONE",
            )

    def commit(
        self,
        before: ChoreographyState,
        changes: dict[str, Any],
        *,
        actions: int = 0,
        tokens: int = 0,
        enforce_limits: bool = False,
    ) -> ChoreographyState:
        """Apply `changes` (top-level fields) and add `actions` / `tokens`, in one UpdateItem
        conditional on `before.version` (else `StateConflict`) and, with `enforce_limits`, on
        both limits holding after the step (else `LimitReached`). Returns the new state."""
        now = now_iso()
        sets = ["version = :next", "updated_at = :now"]
        names: dict[str, str] = {}
        ends = changes.get("status") in ("completed", "failed")
        # The open-work index (`soorma.memory.progress`) in the same write: every step is
        # progress; the step that ends the plan takes it out of the index.
        progress = progress_update(
            self._pk(before.plan_id), now, still_open=False if ends else None
        )
        values: dict[str, Any] = {
            ":expected": before.version,
            ":next": before.version + 1,
            ":now": now,
            ":actions": actions,
            ":tokens": tokens,
            **progress.values,
        }
        for n, (field, value) in enumerate(sorted(changes.items())):
            if field not in ChoreographyState.model_fields or field in ("version", "actions"):
                raise ValueError(f"{field!r} is not a choreography field that commit may set")
            names[f"#f{n}"] = field
            values[f":v{n}"] = value
            sets.append(f"#f{n} = :v{n}")
        condition = "version = :expected"
        if enforce_limits:
            # No arithmetic in conditions: the thresholds are computed here, the check is
            # DynamoDB's, against the stored counters (whatever other containers added).
            values[":actions_left"] = before.max_actions - actions
            values[":tokens_left"] = before.token_budget - tokens
            condition += " AND actions <= :actions_left AND tokens <= :tokens_left"
        try:
            item = self.table.update(
                self._pk(before.plan_id),
                STATE_SK,
                progress.expression(sets, "ADD actions :actions, tokens :tokens"),
                names=names or None,
                values=values,
                condition=condition,
            )
        except ConditionFailed as failed:
            current = (
                None if failed.current is None else ChoreographyState.model_validate(failed.current)
            )
            if current is None or current.version != before.version:
                raise StateConflict(current) from None
            limit: Limit = (
                "max_actions" if current.actions > values[":actions_left"] else "token_budget"
            )
            raise LimitReached(limit, current) from None
        return ChoreographyState.model_validate(item)
