"""Plan definitions: the states of a plan, the requests each state sends, and its transitions.

A `PlanDefinition` is checked when it is built (unique, non-blank state names, known targets,
terminal states completed or failed, every other state with actions); `PlanContext`
(`soorma.workflows.plan_context`) runs it. Conditions are `soorma.workflows.conditions`.

```python
FULFIL = PlanDefinition(initial="fulfilling", states=[
    State("fulfilling",
          actions=[Action("inventory.reserve", "inventory.reserved"),
                   Action("payment.charge", "payment.charged")],
          transitions=[Transition(to="fulfilled", when='results["payment.charged"].charged')],
          default_next="rejected"),
    State("fulfilled", terminal=PlanStatus.COMPLETED),
    State("rejected", terminal=PlanStatus.FAILED),
])
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from soorma.memory.models import PlanStatus
from soorma.workflows.conditions import Condition


class RunningPlan(Protocol):
    """What an action reads of the plan it is sent for (a `PlanContext` is one)."""

    @property
    def goal_data(self) -> Any:
        """The goal event's data."""
        ...


#: What an action's data may be: fixed data, or a function of the running plan (it receives
#: the `PlanContext`, e.g. to read its goal data or the replies so far).
ActionData = Mapping[str, Any] | Callable[[Any], Any] | None


@dataclass(frozen=True)
class Action:
    """A request a state sends when it is entered. `data` defaults to the goal's data.

    Its reply is found in the plan's `results` (and conditions' `results[...]`) under `key`,
    by default the reply's event type; two actions of a state that reply with the same type
    need keys of their own (`Action("part.make", "part.done", key="left")`).
    """

    event_type: str
    response_event: str
    data: ActionData = None
    key: str | None = None

    @property
    def result_key(self) -> str:
        """The key of this action's reply in `results`."""
        return self.key or self.response_event

    def payload(self, plan: RunningPlan) -> Any:
        """The request's data for `plan`."""
        if callable(self.data):
            return self.data(plan)
        return plan.goal_data if self.data is None else dict(self.data)


#: A plan state asking a person for input sends this request (`ask_for_input`); the answer is
#: its reply, `INPUT_PROVIDED` (`soorma input REQUEST_ID --to PLANNER --data ...`, the HTTP API).
INPUT_REQUESTED = "plan.input_requested"
INPUT_PROVIDED = "plan.input_provided"


def ask_for_input(prompt: str, *, key: str = "input") -> Action:
    """The action of a state that waits for a person: a request `plan.input_requested`
    (`{"prompt"}`) whose reply `plan.input_provided` carries the input (in `results[key]`).
    With the state's `timeout` and `on_timeout`, no answer in time takes that transition."""
    return Action(INPUT_REQUESTED, INPUT_PROVIDED, data={"prompt": prompt}, key=key)


@dataclass(frozen=True)
class Transition:
    """A move to `to`, taken when the completing reply's type is `on` (any when None) and the
    condition `when` (None = always) holds."""

    to: str
    when: str | None = None
    on: str | None = None
    condition: Condition | None = field(init=False, default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "condition", None if self.when is None else Condition(self.when))

    def applies(self, event_type: str, namespace: Mapping[str, Any]) -> bool:
        """Whether this transition is taken for a reply of `event_type`."""
        if self.on is not None and self.on != event_type:
            return False
        return self.condition is None or self.condition.evaluate(namespace)


@dataclass(frozen=True)
class State:
    """A state: its actions, its transitions, a default next state, or a terminal status.

    `timeout` (seconds) gives the state's actions a deadline (`soorma.deadlines`): an action
    not answered in time is answered by the timeout reply, and when any was, the plan moves to
    `on_timeout` (when given) instead of trying the transitions."""

    name: str
    actions: Sequence[Action] = ()
    transitions: Sequence[Transition] = ()
    default_next: str | None = None
    terminal: PlanStatus | None = None
    description: str = ""
    timeout: float | None = None
    on_timeout: str | None = None


@dataclass(frozen=True)
class PlanDefinition:
    """The states of a plan and the one it starts in (checked when built)."""

    initial: str
    states: Sequence[State]
    name: str = "plan"

    def __post_init__(self) -> None:
        names = [s.name for s in self.states]
        blank = [name for name in names if not isinstance(name, str) or not name.strip()]
        if blank:
            raise ValueError(
                f"plan {self.name!r}: state name {blank[0]!r} is blank or not a string; "
                f"every state needs a non-empty name (states: {names})"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"plan {self.name!r}: state names must be unique, got {names}")
        if self.initial not in names:
            raise ValueError(f"plan {self.name!r}: initial state {self.initial!r} is not a state")
        for state in self.states:
            targets = [t.to for t in state.transitions]
            if state.default_next is not None:
                targets.append(state.default_next)
            if state.on_timeout is not None:
                if state.timeout is None or not state.actions:
                    raise ValueError(
                        f"plan {self.name!r}: state {state.name!r} has on_timeout but no "
                        "timeout, or no actions to wait for"
                    )
                targets.append(state.on_timeout)
            unknown = [t for t in targets if t not in names]
            if unknown:
                raise ValueError(
                    f"plan {self.name!r}: state {state.name!r} moves to unknown state(s) {unknown}"
                )
            if state.terminal is not None and state.terminal not in (
                PlanStatus.COMPLETED,
                PlanStatus.FAILED,
            ):
                raise ValueError(f"state {state.name!r}: terminal must be completed or failed")
            result_keys = [a.result_key for a in state.actions]
            shared = sorted({k for k in result_keys if result_keys.count(k) > 1})
            if shared:
                raise ValueError(
                    f"plan {self.name!r}: state {state.name!r} has several actions whose replies "
                    f"would share the results key(s) {shared}: give each a key= of its own"
                )
            if state.terminal is None and not state.actions:
                raise ValueError(
                    f"plan {self.name!r}: state {state.name!r} has no actions and is not terminal"
                )

    def state(self, name: str) -> State:
        """The state called `name`."""
        for state in self.states:
            if state.name == name:
                return state
        raise KeyError(f"plan {self.name!r} has no state {name!r}")


@dataclass(frozen=True)
class PlanTransition:
    """One move of a plan, as `Planner.on_transition` handlers receive it."""

    plan_id: str
    from_state: str
    to_state: str
    event_type: str
    event_id: str
