"""One decision of a choreography plan, as one handler invocation (see `ChoreographyPlanner`).

A step loads the plan's state, adds what arrived (goal, reply, input) to the conversation, asks
the model for one tool call among the discovered events and control tools (checked, with bounded
repairs), and commits the decision with its effects in one conditional UpdateItem (`commit`);
only then are the effects published (on the buffered bus). A step retried after its commit finds
its trigger in `last_step` and publishes the stored effects again without calling the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from soorma.ai.billing import USAGE_EVENT, count_tokens, usage_data
from soorma.ai.control_tools import (
    COMPLETE,
    CONTROL_NAMES,
    CONTROL_TOOLS,
    FAIL,
    WAIT_FOR_INPUT,
    ControlChoice,
    check_control_call,
    fallback_content,
)
from soorma.ai.decisions import (
    DecisionFailedError,
    Deliberation,
    EventChoice,
    check_event_call,
    deliberate,
    one_call,
)
from soorma.ai.event_toolkit import EventToolkit
from soorma.ai.plan_effects import PlanEffects, apply_effects
from soorma.ai.plan_limits import BudgetedModel, TokenBudgetExhausted, circuit_breaker, refusal
from soorma.ai.plan_store import ChoreographyState, ChoreographyStore, LimitReached, StateConflict
from soorma.ai.providers import (
    InferenceOptions,
    LanguageModel,
    ModelRequest,
    ModelResponse,
    TokenUsage,
    Turn,
)
from soorma.ai.rails import Rails
from soorma.context import PlatformContext
from soorma.workflows.plan_definitions import INPUT_PROVIDED, INPUT_REQUESTED
from soorma_common.errors import TransientError
from soorma_common.topics import EventTopic

_TURNS: TypeAdapter[list[Turn]] = TypeAdapter(list[Turn])
#: Reloads after losing a commit to a concurrent decision before the record is retried by SQS.
COMMIT_ATTEMPTS = 3


class ChoreographyStep:
    """One decision of one plan in one handler invocation."""

    def __init__(
        self,
        context: PlatformContext,
        store: ChoreographyStore,
        model: LanguageModel,
        rails: Rails,
        toolkit: EventToolkit,
    ) -> None:
        self.context = context
        self.store = store
        self.model = model
        self.rails = rails
        self.toolkit = toolkit
        self.started = False
        #: The state as the step left it (None when the event was ignored).
        self.state: ChoreographyState | None = None

    def run(
        self,
        plan_id: str,
        incoming: Callable[[ChoreographyState], list[Turn] | None],
        *,
        started: bool = False,
    ) -> ChoreographyState | None:
        """Decide once for `plan_id`. `incoming(state)` returns the turns the handled event adds
        to the conversation, or None when the plan does not await it (the event is ignored).
        Returns the state after the decision (also after a replayed one), or None."""
        event = self.context.event
        self.started = started
        for _ in range(COMMIT_ATTEMPTS):
            state = self.store.load(plan_id)
            if state is None:
                self.context.logger.warning("no choreography plan %s; event ignored", plan_id)
                return None
            if state.last_step.get("trigger") == event.id:
                apply_effects(self.context, plan_id, state.last_step.get("effects", []))
                return state
            if state.finished:
                self.context.logger.info("plan %s is %s; event ignored", plan_id, state.status)
                return None
            added = incoming(state)
            if added is None:
                self.context.logger.info("event %s is not awaited by plan %s", event.id, plan_id)
                return None
            try:
                self._decide(state, added)
                return self.state
            except StateConflict:
                continue  # another decision was committed: decide again from the new state
        raise TransientError(
            f"plan {plan_id!r} changed {COMMIT_ATTEMPTS} times while deciding on event "
            f"{event.id}; the event will be delivered again"
        )

    # ---- deciding ---------------------------------------------------------------------------

    def _decide(self, state: ChoreographyState, added: list[Turn]) -> None:
        effects = PlanEffects(self.context, state.plan_id)
        if self.started:
            effects.lifecycle("plan.started", {"goal_event": state.goal.get("event_type")})
        turns = [*_TURNS.validate_python(state.turns), *added]
        memory = dict(state.memory)
        if self.context.event.topic is EventTopic.ACTION_RESULTS:
            memory[self.context.event.type] = self.context.event.data
        pending = {
            key: awaited
            for key, awaited in state.pending.items()
            if key != self.context.event.causation_id
            and (state.status != "waiting" or awaited.get("event") != INPUT_REQUESTED)
        }
        events = [
            e
            for e in self.toolkit.discover_actionable_events(
                capabilities=self.rails.capabilities, pattern=self.rails.pattern
            )
            if e.name not in CONTROL_NAMES
        ]
        request = ModelRequest(
            system=self.rails.system_prompt,
            turns=tuple(turns),
            tools=(*self.toolkit.tool_specs(events), *CONTROL_TOOLS),
            options=InferenceOptions(max_tokens=self.rails.max_tokens, tool_choice="any"),
        )

        def judge(response: ModelResponse) -> EventChoice | ControlChoice:
            call = one_call(response)
            if call.name in CONTROL_NAMES:
                return check_control_call(
                    call,
                    indicators=self.rails.vague_indicators,
                    fallback=self.rails.vague_fallback,
                    memory=memory,
                )
            return check_event_call(self.toolkit, events, call)

        base = {"memory": memory, "pending": pending, "status": "running"}
        # Repairs stop at the plan's token budget (the first call is enforced by the commit).
        budgeted = BudgetedModel(self.model, spent=state.tokens, budget=state.token_budget)
        try:
            decision = deliberate(budgeted, request, judge, max_repairs=self.rails.max_repairs)
        except TokenBudgetExhausted as exhausted:
            notice = circuit_breaker(state, "token_budget", exhausted.spent)
            changes = {**base, "turns": _dump(turns)}  # the rejected answers are not kept
            self._limit_reached(state, notice, changes, exhausted)
            return
        except DecisionFailedError as failed:
            reason = f"no valid decision after {failed.attempts} attempts: {failed.problem}"
            self._bill(effects, state, _model_id(self.model), failed.usage, failed.attempts)
            self._finish(
                state,
                effects,
                {**base, "turns": _dump(turns)},
                failed.usage,
                "failed",
                reason,
                None,
            )
            return
        self._bill(effects, state, decision.model_id, decision.usage, len(decision.responses))
        turns += decision.turns[-1:]  # the accepted answer (repairs are not kept)
        choice = decision.value
        effects.decision(decision)
        if isinstance(choice, EventChoice):
            self._act(state, effects, {**base, "turns": _dump(turns)}, choice, decision)
        elif choice.tool == COMPLETE:
            self._finish(
                state,
                effects,
                {**base, "turns": _dump(turns)},
                decision.usage,
                "completed",
                "vague result replaced" if choice.replaced_vague else None,
                choice.argument,
            )
        elif choice.tool == FAIL:
            self._finish(
                state,
                effects,
                {**base, "turns": _dump(turns)},
                decision.usage,
                "failed",
                choice.argument,
                None,
            )
        else:
            assert choice.tool == WAIT_FOR_INPUT
            changes = {**base, "turns": _dump(turns), "status": "waiting"}
            self._wait_for_input(state, effects, changes, choice, decision)

    def _wait_for_input(
        self,
        state: ChoreographyState,
        effects: PlanEffects,
        changes: dict[str, Any],
        choice: ControlChoice,
        decision: Deliberation[Any],
    ) -> None:
        """Pause the plan for a person's answer, announced by `plan.waiting_for_input`. With
        `Rails.input_timeout` the wait is also a request with a deadline (`plan.input_requested`,
        an action): the plan resumes on the answer or, at the deadline, on the timeout reply,
        which the model sees as the tool's error."""
        asked = {
            "plan_id": state.plan_id,
            "prompt": choice.argument,
            "tool_use_id": choice.call.tool_use_id,
        }
        timeout = self.rails.input_timeout
        actions = 0
        if timeout is None:
            effects.publish(EventTopic.NOTIFICATION_EVENTS, "plan.waiting_for_input", asked)
        else:
            request_id = effects.request(INPUT_REQUESTED, asked, INPUT_PROVIDED, timeout=timeout)
            effects.publish(
                EventTopic.NOTIFICATION_EVENTS,
                "plan.waiting_for_input",
                {**asked, "request_id": request_id, "to": self.context.agent.name},
            )
            awaited = {"event": INPUT_REQUESTED, "tool_use_id": choice.call.tool_use_id}
            changes = {**changes, "pending": {**changes["pending"], request_id: awaited}}
            actions = 1
        try:  # a wait costs tokens (and, with a deadline, an action): both limits hold
            self._commit(
                state,
                effects,
                changes,
                actions=actions,
                tokens=decision.usage.total_tokens,
                enforce_limits=True,
            )
        except LimitReached as reached:  # the refused call is not kept
            notice = refusal(state, reached, decision.usage.total_tokens)
            self._limit_reached(
                state, notice, {**changes, "turns": changes["turns"][:-1]}, decision
            )

    def _act(
        self,
        state: ChoreographyState,
        effects: PlanEffects,
        changes: dict[str, Any],
        choice: EventChoice,
        decision: Deliberation[Any],
    ) -> None:
        event = choice.event
        response_event = str(event.metadata.get("response_event") or f"{event.name}.result")
        request_id = effects.request(event.name, choice.payload, response_event)
        pending = {
            **changes["pending"],
            request_id: {"event": event.name, "tool_use_id": choice.call.tool_use_id},
        }
        try:
            self._commit(
                state,
                effects,
                {**changes, "pending": pending},
                actions=1,
                tokens=decision.usage.total_tokens,
                enforce_limits=True,
            )
        except LimitReached as reached:  # the refused call is not kept
            notice = refusal(state, reached, decision.usage.total_tokens)
            self._limit_reached(
                state, notice, {**changes, "turns": changes["turns"][:-1]}, decision
            )
            return
        published = {e.id for e in self.context.bus.outbox if e.type == event.name}
        if request_id not in published:  # pragma: no cover - the bus changed how ids are made
            raise AssertionError(f"request id {request_id} was not the one the bus gave")

    def _limit_reached(
        self,
        state: ChoreographyState,
        notice: dict[str, Any],
        changes: dict[str, Any],
        spending: Deliberation[Any] | TokenBudgetExhausted,
    ) -> None:
        """The plan ends, completed with what it had: `notice` (`circuit_breaker`) says why."""
        reason = notice["reason"]
        extra = {"plan_id": state.plan_id, "limit": notice["limit"]}
        self.context.logger.warning(reason, extra=extra)
        effects = PlanEffects(self.context, state.plan_id)
        if self.started:
            effects.lifecycle("plan.started", {"goal_event": state.goal.get("event_type")})
        usage = spending.usage
        self._bill(effects, state, spending.model_id, usage, len(spending.responses))
        notice = {"plan_id": state.plan_id, "agent": self.context.agent.name, **notice}
        effects.publish(EventTopic.SYSTEM_EVENTS, "plan.circuit_breaker_tripped", notice)
        result = fallback_content(self.rails.vague_fallback, changes["memory"])
        if result is None and changes["memory"]:
            result = list(changes["memory"].values())[-1]
        self._finish(
            state,
            effects,
            {**changes, "pending": {}},
            usage,
            "completed",
            reason,
            result,
        )

    # ---- ending and committing -----------------------------------------------------------

    def _finish(
        self,
        state: ChoreographyState,
        effects: PlanEffects,
        changes: dict[str, Any],
        usage: TokenUsage,
        status: str,
        reason: str | None,
        result: Any,
    ) -> None:
        if status == "completed":
            effects.lifecycle(
                "plan.completed", {"status": status, "result": result, "reason": reason}
            )
            effects.reply(
                state.goal,
                {"plan_id": state.plan_id, "status": status, "result": result, "reason": reason},
            )
        else:
            effects.lifecycle("plan.failed", {"status": status, "reason": reason})
            effects.reply(state.goal, reason or "the plan failed", failed=True)
        self._commit(
            state,
            effects,
            {**changes, "status": status, "reason": reason, "result": result, "pending": {}},
            tokens=usage.total_tokens,
        )

    def _commit(
        self,
        state: ChoreographyState,
        effects: PlanEffects,
        changes: dict[str, Any],
        *,
        actions: int = 0,
        tokens: int = 0,
        enforce_limits: bool = False,
    ) -> None:
        step = {"trigger": self.context.event.id, "effects": effects.items}
        self.state = self.store.commit(
            state,
            {**changes, "last_step": step},
            actions=actions,
            tokens=tokens,
            enforce_limits=enforce_limits,
        )
        effects.apply()

    def _bill(
        self,
        effects: PlanEffects,
        state: ChoreographyState,
        model_id: str,
        usage: TokenUsage,
        calls: int,
    ) -> None:
        data = usage_data(
            agent=self.context.agent.name,
            model_id=model_id,
            usage=usage,
            model_calls=calls,
            tenant_id=self.context.tenant_id,
            plan_id=state.plan_id,
        )
        effects.publish(EventTopic.BILLING_EVENTS, USAGE_EVENT, data)
        count_tokens(self.context.agent.name, model_id, usage)


def _dump(turns: list[Turn]) -> list[dict[str, Any]]:
    return [json.loads(t.model_dump_json()) for t in turns]


def _model_id(model: LanguageModel) -> str:
    return str(getattr(model, "model_id", None) or type(model).__name__)
