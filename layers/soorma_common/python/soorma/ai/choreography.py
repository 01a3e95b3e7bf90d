"""`ChoreographyPlanner`: a `Planner` whose next step is decided by a language model.

```python
planner = ChoreographyPlanner(
    "research-planner",
    model_id="us.anthropic.claude-sonnet-4-20250514-v1:0",   # IAM grant + SOORMA_LLM_MODEL_ID
                                           # (model=ScriptedProvider(...) in tests)
    max_actions=8, token_budget=40_000,
    instructions="Research, draft, then validate before completing.",
    goals=["research.goal"],               # or @planner.on_goal("research.goal")
)
handler = planner.lambda_handler
```

- A goal starts a plan (`plan.started` on `plan-events`) and makes its first decision. Each
  decision is one tool call among the discovered events (those on `action-requests` that an
  agent consumes, narrowed by `event_capabilities` / `event_pattern`) and the control tools
  `complete(result)`, `wait_for_input(prompt)`, `fail(reason)`; it is announced as
  `plan.decision`, and its tokens go to `billing-events` (`llm.tokens_used`).
- An event decision publishes a request (reply addressed to this planner; the response event is
  the event's `response_event` metadata, else `<event>.result`). Its reply comes back through
  `on_result`, matched by its causation id against the plan's pending requests, and triggers the
  next decision. `wait_for_input` publishes `plan.waiting_for_input` on `notification-events`;
  an `INPUT_EVENT` (`plan.input_provided`, `{"plan_id", "input"}`) on `notification-events`
  resumes the plan. With `input_timeout` (seconds) the wait is also a request with a deadline
  (`plan.input_requested`, counted as an action): the reply `plan.input_provided` to it, or
  the input event, resumes the plan; at the deadline the timeout reply does, and the model sees
  the tool's error (`timeout`) and decides what to do.
- Rails: an unregistered event or an invalid payload is never published (the error goes back to
  the model, `max_repairs` times, then the plan fails with the reason; no repair is asked for
  past `token_budget`); `max_actions` and `token_budget` are persisted counters enforced by
  DynamoDB on every action and wait (at a limit the plan completes with the reason, a
  `system-events` notice and a warning); limits that make no sense are refused by the
  constructor (`ValueError` naming the parameter); a vague `complete` result
  (`vague_indicators`) is replaced by `vague_fallback` content from the plan's working memory
  (the replies by event type), or sent back to the model.
- The end: `plan.completed` / `plan.failed`, and the goal's requester gets the reply.

State lives in the plan's item of the memory table (`soorma.ai.plan_store`); every decision is
one conditional write on it (version compare-and-set), inside the runtime's claim of the event.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from soorma.agent_spec import Handler
from soorma.agents.base import EventDeclaration
from soorma.agents.planner import Planner
from soorma.ai.choreography_step import ChoreographyStep
from soorma.ai.control_tools import DEFAULT_VAGUE_INDICATORS, VagueFallback
from soorma.ai.decisions import DEFAULT_MAX_REPAIRS
from soorma.ai.event_toolkit import EventToolkit
from soorma.ai.plan_limits import check_limits
from soorma.ai.plan_store import ChoreographyState, ChoreographyStore
from soorma.ai.providers import (
    LanguageModel,
    ToolResult,
    ToolResultTurn,
    Turn,
    UserTurn,
    configured_model,
)
from soorma.ai.rails import Rails
from soorma.context import PlatformContext
from soorma.memory.table import MemoryTable
from soorma.workflows.plan_definitions import INPUT_PROVIDED, INPUT_REQUESTED
from soorma.workflows.tasks import parent_of
from soorma_common.envelope import EventEnvelope
from soorma_common.replies import is_failure_reply
from soorma_common.topics import EventTopic

#: The event that answers `wait_for_input` (on `notification-events`): `{"plan_id", "input"}`.
INPUT_EVENT = INPUT_PROVIDED
_PLAN_NAMESPACE = uuid.UUID("5b0e3c57-8f43-4c2a-a1d4-3f1f0d2e9a61")

#: What a goal handler may return: the goal as text or data for the model, or None (the goal
#: event's data).
GoalText = Any


class ChoreographyPlanner(Planner):
    """A planner that asks a language model for each step (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        model: LanguageModel | None = None,
        model_id: str | None = None,
        max_actions: int = 10,
        token_budget: int = 50_000,
        instructions: str = "",
        goals: Iterable[str] = (),
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        max_tokens: int = 1024,
        vague_indicators: Iterable[str] = DEFAULT_VAGUE_INDICATORS,
        vague_fallback: VagueFallback | None = None,
        event_capabilities: Iterable[str] | None = None,
        event_pattern: str | None = None,
        input_timeout: float | None = None,
        description: str = "",
        capabilities: Iterable[str] = (),
        events_consumed: Iterable[EventDeclaration] = (),
        events_produced: Iterable[EventDeclaration] | None = None,
    ) -> None:
        check_limits(
            at_least_one={
                "max_actions": max_actions,
                "token_budget": token_budget,
                "max_tokens": max_tokens,
            },
            at_least_zero={"max_repairs": max_repairs},
        )
        timeout_ok = isinstance(input_timeout, int | float) and not isinstance(input_timeout, bool)
        if input_timeout is not None and not (timeout_ok and input_timeout > 0):
            raise ValueError(f"input_timeout must be more than 0 seconds, not {input_timeout!r}")
        super().__init__(
            name,
            description=description,
            capabilities=capabilities,
            events_consumed=events_consumed,
            events_produced=events_produced,
        )
        self._model = model
        self._model_id = model_id
        if model_id is not None:
            self.uses_models(model_id)
        self.rails = Rails(
            max_actions=max_actions,
            token_budget=token_budget,
            instructions=instructions,
            max_repairs=max_repairs,
            max_tokens=max_tokens,
            vague_indicators=tuple(vague_indicators),
            vague_fallback=vague_fallback,
            capabilities=None if event_capabilities is None else tuple(event_capabilities),
            pattern=event_pattern,
            input_timeout=input_timeout,
        )
        self.on_result()(self._handle_result)
        self.on_event(INPUT_EVENT, topic=EventTopic.NOTIFICATION_EVENTS)(self._handle_input)
        for goal in goals:
            self.on_goal(goal)(_goal_data)

    @property
    def model(self) -> LanguageModel:
        """The language model: `model`, else the configured one (`configured_model`: Bedrock with
        `model_id` or `SOORMA_LLM_MODEL_ID` unless `SOORMA_LLM_PROVIDER` says otherwise), built
        on first use."""
        if self._model is None:
            self._model = configured_model(self._model_id)
        return self._model

    @property
    def max_actions(self) -> int:
        """The most actions (published requests) one plan may take."""
        return self.rails.max_actions

    @property
    def token_budget(self) -> int:
        """The most tokens (in and out, all decisions) one plan may spend."""
        return self.rails.token_budget

    def on_goal(
        self, event_type: str, *, topic: EventTopic | str = EventTopic.ACTION_REQUESTS
    ) -> Callable[[Handler], Handler]:
        """Start a plan for each `event_type` goal. The decorated `function(event, context)`
        returns the goal for the model (text or data; None: the event's data)."""

        def decorator(function: Handler) -> Handler:
            async def start(event: EventEnvelope, context: PlatformContext) -> None:
                goal = function(event, context)
                if inspect.isawaitable(goal):
                    goal = await goal
                await self.start_plan(context, event.data if goal is None else goal)

            start.__name__ = getattr(function, "__name__", "goal")
            self._register(event_type, topic)(start)
            return function

        return decorator

    # ---- the steps ---------------------------------------------------------------------------

    async def start_plan(self, context: PlatformContext, goal: GoalText) -> str:
        """Create the plan of the handled goal (id derived from the agent and the goal event's
        source and id, so a retry finds it) and make its first decision; returns the plan id."""
        event = context.event
        # CloudEvents makes source and id together unique; no CloudEvents string holds \x1f
        plan_id = str(uuid.uuid5(_PLAN_NAMESPACE, f"{self.name}\x1f{event.source}\x1f{event.id}"))
        # A retried goal finds its plan (same id, same goal): create_plan returns it.
        await context.memory.create_plan(event.type, event.data, plan_id=plan_id)
        text = goal if isinstance(goal, str) else _as_text(goal)
        first = UserTurn(text=text or "(no goal given)")
        self._store(context).create(
            ChoreographyState(
                plan_id=plan_id,
                user_id=context.memory.user_id,
                max_actions=self.rails.max_actions,
                token_budget=self.rails.token_budget,
                goal=parent_of(event),
                turns=[first.model_dump(mode="json")],
            )
        )
        after = self._step(context).run(plan_id, _first_turn, started=True)
        await self._mirror_status(context, plan_id, after)
        return plan_id

    async def _handle_result(self, event: EventEnvelope, context: PlatformContext) -> None:
        plan_id = event.plan_id
        if plan_id is None:
            context.logger.warning("a reply without plan_id reached %s; ignored", self.name)
            return

        def incoming(state: ChoreographyState) -> list[Turn] | None:
            awaited = state.pending.get(event.causation_id or "")
            waited_for = awaited is not None and awaited.get("event") == INPUT_REQUESTED
            if awaited is None or state.status != ("waiting" if waited_for else "running"):
                return None
            content = event.data if isinstance(event.data, dict) else {"value": event.data}
            result = ToolResult(
                tool_use_id=awaited["tool_use_id"],
                content={"event": event.type, "data": content},
                is_error=is_failure_reply(event.data, event),
            )
            return [ToolResultTurn(results=(result,))]

        after = self._step(context).run(plan_id, incoming)
        await self._mirror_status(context, plan_id, after)

    async def _handle_input(self, event: EventEnvelope, context: PlatformContext) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        plan_id = data.get("plan_id") or event.plan_id
        if not plan_id:
            context.logger.warning("%s without plan_id; ignored", INPUT_EVENT)
            return

        def incoming(state: ChoreographyState) -> list[Turn] | None:
            last = state.turns[-1] if state.turns else {}
            calls = last.get("tool_calls") or []
            if state.status != "waiting" or not calls:
                return None
            answer = ToolResult(
                tool_use_id=calls[0]["tool_use_id"], content={"input": data.get("input")}
            )
            return [ToolResultTurn(results=(answer,))]

        after = self._step(context).run(str(plan_id), incoming)
        await self._mirror_status(context, str(plan_id), after)

    # ---- parts -------------------------------------------------------------------------------

    def _store(self, context: PlatformContext) -> ChoreographyStore:
        return ChoreographyStore(MemoryTable.from_settings(), context.memory.tenant_id)

    def _step(self, context: PlatformContext) -> ChoreographyStep:
        return ChoreographyStep(
            context, self._store(context), self.model, self.rails, EventToolkit(context.registry)
        )

    async def _mirror_status(
        self, context: PlatformContext, plan_id: str, state: ChoreographyState | None
    ) -> None:
        """Keep the memory's plan record's status in step with the plan's end (for listings)."""
        if state is None or not state.finished:
            return
        plan = await context.memory.get_plan(plan_id)
        if plan is not None and plan.status.value == "running":
            await context.memory.update_plan(plan_id, status=state.status)


def _goal_data(event: EventEnvelope, context: PlatformContext) -> Any:
    return None


def _first_turn(state: ChoreographyState) -> list[Turn] | None:
    """The goal's step adds nothing: the goal is already the conversation's first turn."""
    return [] if len(state.turns) == 1 else None


def _as_text(goal: Any) -> str:
    return json.dumps(goal, sort_keys=True, default=str)
