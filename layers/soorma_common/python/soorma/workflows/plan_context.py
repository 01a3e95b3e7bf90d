"""`PlanContext`: a planner's plan as a state machine over events.

A `PlanDefinition` (`soorma.workflows.plan_definitions`) names states. Entering a state
delegates its actions (in parallel) and waits for all their replies (fan-in, exactly once); then
its transitions are tried in order: the first whose `on` matches the completing reply's type and
whose `when` condition holds over the replies (see `soorma.workflows.conditions`) wins, else
`default_next`. Entering a terminal state finalizes the plan: its status becomes completed or
failed, `plan.completed` / `plan.failed` is published, and the goal's requester gets the goal's
`response_event`. A state whose round trip would go over `SOORMA_MAX_HOPS` fails the plan
instead (`soorma.workflows.plan_hops`).

Every move is one conditional UpdateItem on the plan (`state` must still be the state it leaves,
status `running`), recorded with the event that caused it, so a retried handler repeats it
without moving twice. `Planner.on_transition` handlers run after each move.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import uuid
from typing import Any

from soorma.context import PlatformContext
from soorma.deadlines import is_timeout_reply
from soorma.memory.models import Plan, PlanStatus
from soorma.memory.table import ConditionFailed, Item
from soorma.workflows import fanin
from soorma.workflows.fanin import Delegation, SubResult
from soorma.workflows.plan_definitions import PlanDefinition, PlanTransition, State
from soorma.workflows.plan_hops import hop_limit_error
from soorma.workflows.plan_inputs import announce_input_waits
from soorma.workflows.tasks import parent_of, reply_to_parent
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import IllegalTransitionError, NotFoundError, VersionConflictError
from soorma_common.topics import EventTopic

_PLAN_NAMESPACE = uuid.UUID("0b6f8a52-1c1e-4a53-9e0f-6a4f7e9d2c11")


class PlanContext:
    """A running plan: its record, its definition, and the handler context it is used in."""

    def __init__(self, context: PlatformContext, definition: PlanDefinition, plan: Plan) -> None:
        self.context = context
        self.definition = definition
        self.plan = plan
        #: What `finalize` replies with; on_transition handlers may set it.
        self.result: Any = None
        self._results: dict[str, Any] = {}
        self._group: Item | None = None
        self._request: Item | None = None

    # ---- starting and restoring -----------------------------------------------------------

    @classmethod
    async def start(
        cls,
        context: PlatformContext,
        definition: PlanDefinition,
        *,
        plan_id: str | None = None,
        session_id: str | None = None,
        parent_plan_id: str | None = None,
    ) -> PlanContext:
        """Create the plan for the handled goal, publish `plan.started`, enter the first state.

        The plan id defaults to one derived from the agent and the goal event's source and id,
        so a retried handler finds its own plan instead of creating a second one.
        """
        goal = context.event
        name = f"{context.agent.name}\x1f{goal.source}\x1f{goal.id}"  # no id or source has \x1f
        plan_id = plan_id or str(uuid.uuid5(_PLAN_NAMESPACE, name))
        memory = context.memory
        plan = await memory.create_plan(
            goal.type,
            goal.data,
            plan_id=plan_id,
            session_id=session_id or goal.session_id,
            parent_plan_id=parent_plan_id,
            state=definition.initial,
            context={"goal": parent_of(goal), "definition": definition.name, "entered_by": goal.id},
        )
        self = cls(context, definition, plan)
        self._publish(
            "plan.started",
            {"goal_event": goal.type, "state": definition.initial, "definition": definition.name},
        )
        await self._enter(definition.state(definition.initial), trigger_id=goal.id)
        return self

    @classmethod
    async def restore(
        cls, context: PlatformContext, definition: PlanDefinition
    ) -> PlanContext | None:
        """The plan a reply belongs to (by its `causation_id`), or None if it is not one of ours."""
        memory, agent = context.memory, context.agent.name
        request = fanin.find_request(memory, agent, context.event.causation_id)
        group = None if request is None else fanin.get_group(memory, agent, request["task_id"])
        if group is None or not group.get("plan_id"):
            return None
        plan = await memory.get_plan(group["plan_id"])
        if plan is None:
            return None
        self = cls(context, definition, plan)
        self._group, self._request = group, request
        return self

    @classmethod
    async def load(
        cls, context: PlatformContext, definition: PlanDefinition, plan_id: str
    ) -> PlanContext:
        """A plan by id (e.g. to pause or resume it from another event)."""
        plan = await context.memory.get_plan(plan_id)
        if plan is None:
            raise NotFoundError(f"no plan {plan_id!r} for this tenant and user")
        return cls(context, definition, plan)

    # ---- what it is -----------------------------------------------------------------------

    @property
    def plan_id(self) -> str:
        """The plan's id."""
        return self.plan.plan_id

    @property
    def state(self) -> str:
        """The current state's name."""
        return self.definition.initial if self.plan.state is None else self.plan.state

    @property
    def status(self) -> PlanStatus:
        """The plan's status."""
        return self.plan.status

    @property
    def goal_data(self) -> Any:
        """The goal event's data."""
        return self.plan.goal_data

    @property
    def results(self) -> dict[str, Any]:
        """The replies of the state that just completed, by action key (an action's `key`,
        by default its reply event type; unique within a state), loaded when the state's
        replies are all in."""
        return dict(self._results)

    @property
    def ended(self) -> bool:
        """Whether the plan is completed or failed."""
        return self.status in (PlanStatus.COMPLETED, PlanStatus.FAILED)

    # ---- moving ---------------------------------------------------------------------------

    async def advance(self, event: EventEnvelope | None = None) -> bool:
        """Record a reply; when it completes the current state, take the next transition.

        Returns True when this call moved the plan (exactly one reply per state does).
        """
        event = event or self.context.event
        group = self._group
        if group is None:
            group = fanin.find_group(
                self.context.memory, self.context.agent.name, event.causation_id
            )
            if group is None:
                return False
        found = fanin.record(
            self.context.memory, group, event, late=self.ended, pointer=self._request
        )
        self._group = found.group
        if found.late or not found.complete:
            return False
        self._results = _by_key(fanin.results_of(self.context.memory, found.group).values())
        if self.status is PlanStatus.PAUSED:
            # The plan was read before this reply was recorded; `resume` may have run since.
            # `resume` reads the group after its own status change, and this reads the plan
            # after recording: whichever of the two comes second sees both, so the plan moves.
            latest = await self.context.memory.get_plan(self.plan_id)
            if latest is None or latest.status is not PlanStatus.RUNNING:
                return False
            self.plan = latest
        return await self._choose_and_move(event)

    async def _choose_and_move(self, event: EventEnvelope) -> bool:
        from_state = self.state
        if self.plan.context.get("entered_by") == event.id:
            if self.plan.context.get("moved_by") != self.context.event.id:
                return False  # another handler (the last reply, or a resume) made this move
            # A retry of the handler that already moved the plan on this event: choose again
            # from the state it left (same replies, same choice) and repeat the move's effects.
            from_state = self.plan.context.get("entered_from") or from_state
        namespace = {
            "data": event.data,
            "event": event.type,
            "results": self._results,
            "goal": self.goal_data,
            "state": from_state,
        }
        current = self.definition.state(from_state)
        timed_out = any(is_timeout_reply(data) for data in self._results.values())
        target = next(
            (t.to for t in current.transitions if t.applies(event.type, namespace)),
            current.default_next,
        )
        if timed_out and current.on_timeout is not None:
            target = current.on_timeout
        if target is None:
            await self.finalize(
                {"success": False, "error": f"no transition from {self.state!r} on {event.type!r}"},
                status=PlanStatus.FAILED,
            )
            return True
        return await self.transition_to(target, event, from_state=from_state)

    async def transition_to(
        self,
        to_state: str,
        trigger: EventEnvelope | None = None,
        *,
        from_state: str | None = None,
    ) -> bool:
        """Move to `to_state` (checked against the definition), run hooks, enter the state.

        Returns False, doing nothing, when another handler already made this move on the same
        trigger (a resume racing the last reply); a retry of the handler that made it repeats
        its effects (events, hooks, entering the state) and returns True.
        """
        trigger = trigger or self.context.event
        current = self.definition.state(from_state or self.state)
        allowed = {t.to for t in current.transitions} | {current.default_next, current.on_timeout}
        if to_state not in allowed:
            raise IllegalTransitionError(
                f"plan {self.plan_id!r}: illegal transition {current.name} -> {to_state} "
                f"(allowed: {', '.join(sorted(s for s in allowed if s)) or 'none'})"
            )
        from_state = current.name
        memory = self.context.memory
        context = {
            **self.plan.context,
            "entered_by": trigger.id,
            "entered_from": from_state,
            "left_group": _group_id(self.plan),
            "moved_by": self.context.event.id,
        }
        try:
            self.plan = await memory.update_plan(
                self.plan_id,
                state=to_state,
                context=context,
                expected_state=from_state,
                expected_status=PlanStatus.RUNNING,
            )
        except VersionConflictError:
            latest = await memory.get_plan(self.plan_id)
            if latest is not None and latest.status in (PlanStatus.COMPLETED, PlanStatus.FAILED):
                _log.warning(
                    "plan %s ended (%s) before reply %s could move it: recorded, not acted on",
                    self.plan_id,
                    latest.status.value,
                    trigger.id,
                )
                self.plan = latest
                return False
            if latest is None or latest.context.get("entered_by") != trigger.id:
                raise
            if latest.context.get("moved_by") != self.context.event.id:
                self.plan = latest  # another handler made this very move
                return False
            self.plan = latest  # a retry of the handler that already made this move
        move = PlanTransition(self.plan_id, from_state, to_state, trigger.type, trigger.id)
        self._publish(
            "plan.state_changed",
            {"from_state": from_state, "to_state": to_state, "event_type": trigger.type},
        )
        await self._run_hooks(move)
        await self._enter(self.definition.state(to_state), trigger_id=trigger.id)
        return True

    async def _enter(self, state: State, *, trigger_id: str) -> None:
        if state.terminal is not None:
            await self.finalize(self.result, status=state.terminal)
            return
        error = hop_limit_error(self.context, self.plan_id, state.name)
        if error is not None:  # its round trip would go over SOORMA_MAX_HOPS: a loop
            await self.finalize({"success": False, "error": error}, status=PlanStatus.FAILED)
            return
        sent = fanin.delegate(
            self.context.memory,
            self.context.bus,
            _group_id(self.plan, trigger_id),
            [
                Delegation(a.event_type, a.payload(self), a.response_event, a.result_key)
                for a in state.actions
            ],
            parent=self.plan.context.get("goal", {}),
            agent=self.context.agent.name,
            plan_id=self.plan_id,
            created_by=trigger_id,
            timeout=state.timeout,
        )
        announce_input_waits(self.context, self.plan_id, self, state, sent)

    async def _run_hooks(self, move: PlanTransition) -> None:
        for hook in self.context.agent.transitions_for(move.from_state, move.to_state):
            outcome = hook.function(move, self, self.context)
            if inspect.isawaitable(outcome):
                await outcome

    # ---- ending, pausing ------------------------------------------------------------------

    async def finalize(
        self, result: Any = None, *, status: PlanStatus = PlanStatus.COMPLETED
    ) -> None:
        """End the plan: set its status, publish `plan.completed` / `plan.failed`, reply."""
        memory = self.context.memory
        self.plan = await memory.update_plan(self.plan_id, status=status)
        if result is None:
            result = {"plan_id": self.plan_id, "state": self.state, "results": self._results}
        event = "plan.completed" if status is PlanStatus.COMPLETED else "plan.failed"
        self._publish(event, {"state": self.state, "status": status.value, "result": result})
        reply_to_parent(self.context, self.plan.context.get("goal", {}), result)

    async def fail(self, error: str) -> None:
        """Fail the plan now, e.g. when a sub-request of its state never replied: the state's
        group is closed (replies that come later are recorded as late, never acted on), the
        plan's status becomes failed, and the goal's requester gets `{"success": false, ...}`.
        """
        group = fanin.get_group(self.context.memory, self.context.agent.name, _group_id(self.plan))
        if group is not None:
            with contextlib.suppress(ConditionFailed):  # replies all in: nothing to close
                fanin.close(self.context.memory, group, "failed")
        await self.finalize({"success": False, "error": error}, status=PlanStatus.FAILED)

    async def pause(self, reason: str = "") -> None:
        """Pause the plan (running -> paused): replies that arrive are recorded, not acted on."""
        self.plan = await self.context.memory.update_plan(self.plan_id, status=PlanStatus.PAUSED)
        self._publish("plan.state_changed", {"status": "paused", "reason": reason})

    async def resume(self) -> bool:
        """Resume (paused -> running); if the current state's replies all came in meanwhile,
        take its transition now. Returns True when the plan moved.

        The group is read (strongly consistent) after the status change: a reply recorded
        before the change is seen here, and `advance` for a reply recorded after it finds the
        plan running. A retry of a resume that already moved the plan repeats that move's
        effects (from the group of the state it left) instead of moving again.
        """
        retry = self.plan.context.get("moved_by") == self.context.event.id
        if not (retry and self.status in (PlanStatus.COMPLETED, PlanStatus.FAILED)):
            self.plan = await self.context.memory.update_plan(
                self.plan_id, status=PlanStatus.RUNNING
            )
        self._publish("plan.state_changed", {"status": "running"})
        group_id = _group_id(self.plan)
        if retry:
            group_id = self.plan.context.get("left_group") or group_id
        group = fanin.get_group(self.context.memory, self.context.agent.name, group_id)
        if group is None or int(group.get("received", 0)) < int(group.get("expected", 1)):
            return False
        results = fanin.results_of(self.context.memory, group)
        self._results = _by_key(results.values())
        completing = group.get("completed_by") or group.get("last_recorded")
        last = next((r for r in results.values() if r.event_id == completing), None)
        if last is None:
            return False
        trigger = EventEnvelope(
            id=last.event_id,
            source="soorma.memory",
            type=last.event_type,
            topic=EventTopic.ACTION_RESULTS,
            data=last.data,
        )
        return await self._choose_and_move(trigger)

    def _publish(self, event_type: str, data: dict[str, Any]) -> None:
        self.context.bus.publish(
            EventTopic.PLAN_EVENTS,
            event_type,
            {"plan_id": self.plan_id, **data},
            plan_id=self.plan_id,
        )


def _by_key(results: Any) -> dict[str, Any]:
    """A state's replies by action key (unique in a state: `PlanDefinition` checks it)."""
    found: dict[str, Any] = {}
    for result in results:
        assert isinstance(result, SubResult)
        found[result.key or result.event_type] = result.data
    return found


_log = logging.getLogger(__name__)


def _group_id(plan: Plan, entered_by: str | None = None) -> str:
    """The fan-in group of the plan's current state: one per entry into a state."""
    return f"{plan.plan_id}.{entered_by or plan.context.get('entered_by')}"
