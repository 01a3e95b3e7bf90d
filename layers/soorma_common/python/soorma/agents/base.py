"""`Agent`: decorators record subscriptions, `manifest()` is the record, `lambda_handler` runs."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from soorma.agent_spec import CLAIM_FIRST, CLAIM_MODES, Handler, HandlerSpec, TransitionHandler
from soorma_common.agent_kind import AgentKind
from soorma_common.envelope import EventEnvelope
from soorma_common.naming import check_agent_name, event_source
from soorma_common.subscription import Subscription
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    # The one upward edge of the SDK: an agent runs itself (`lambda_handler`) on the runtime,
    # imported lazily there; the runtime sees an agent only as `soorma.agent_spec.AgentSpec`.
    from soorma.runtime import LambdaRuntime

    # The manifest's models are built by `manifest()` (tooling), not on the cold start.
    from soorma_common.definitions import EventDefinition
    from soorma_common.manifest import AgentManifest

#: An event an agent declares: its type, or an `EventDefinition` (with a payload schema).
EventDeclaration: TypeAlias = "str | EventDefinition"


class Agent:
    """An agent: named, with subscriptions declared by `@agent.on_event(event_type, topic=...)`.

    On the base class `topic` is required; `Worker`, `Tool` and `Planner` default it to
    `action-requests`. Handlers take `(event: EventEnvelope, context: PlatformContext)` and may be
    `def` or `async def`. `events_produced`, when given, is the list of event types the agent may
    publish (the runtime and IAM both enforce it). `claims="one-write"` stores each handled
    event's claim in one DynamoDB write instead of two, for handlers with no side effects
    outside the bus (docs/reliability.md).
    """

    kind: AgentKind = AgentKind.AGENT

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        capabilities: Iterable[str] = (),
        events_consumed: Iterable[EventDeclaration] = (),
        events_produced: Iterable[EventDeclaration] | None = None,
        claims: str = CLAIM_FIRST,
    ) -> None:
        if claims not in CLAIM_MODES:
            raise ValueError(f"claims={claims!r}: expected one of {', '.join(CLAIM_MODES)}")
        self.name = check_agent_name(name)
        #: How the agent's events are claimed: `"claim-first"` (the default: the handler runs
        #: once per event) or `"one-write"` (one DynamoDB write per event, for handlers with no
        #: side effects outside the bus; see docs/reliability.md).
        self.claims = claims
        self.description = description
        self.capabilities = list(capabilities)
        self.events_consumed = list(events_consumed)
        self.events_produced = None if events_produced is None else list(events_produced)
        self.source = event_source(self.name)
        self.handlers: list[HandlerSpec] = []
        # (topic, type, addressed to me, handler count) -> handler: dispatch once per type
        self._dispatch: dict[tuple[EventTopic, str, bool, int], HandlerSpec | None] = {}
        self._runtime: LambdaRuntime | None = None
        #: Bedrock models the agent calls (`uses_models`): its IAM grant and SOORMA_LLM_MODEL_ID.
        self.llm_models: list[str] = []

    # ---- declaring ------------------------------------------------------------------------

    def uses_models(self, *model_ids: str) -> Agent:
        """Declare the Bedrock models (ids, inference profile ids or ARNs) this agent calls: the
        deployed function may invoke these and no other, and the first becomes its
        `SOORMA_LLM_MODEL_ID` (what `BedrockConverseProvider()` and `EventSelector` call)."""
        for model_id in model_ids:
            if model_id not in self.llm_models:
                self.llm_models.append(model_id)
        return self

    def on_event(
        self,
        event_type: str,
        *,
        topic: EventTopic | str,
        include_replies: bool = False,
        include_own_events: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Handle `event_type` (exact, `"*"` or a prefix like `"research.*"`) on `topic`.

        Replies addressed to other agents are not delivered unless `include_replies` (an
        observer such as an audit log); a wildcard or prefix does not match this agent's own
        events unless `include_own_events` (so an agent cannot trigger itself by accident)."""
        return self._register(
            event_type,
            topic,
            include_replies=include_replies,
            include_own_events=include_own_events,
        )

    def _register(
        self,
        event_type: str,
        topic: EventTopic | str,
        *,
        replies: bool = False,
        replies_with_result: bool = False,
        response_event: str | None = None,
        include_replies: bool = False,
        include_own_events: bool = False,
    ) -> Callable[[Handler], Handler]:
        subscription = Subscription(
            topic=EventTopic.parse(topic),
            event_type=event_type,
            replies=replies,
            include_replies=include_replies,
            include_own_events=include_own_events,
        )

        def decorator(function: Handler) -> Handler:
            _check_handler(self.name, event_type, function)
            for existing in self.handlers:
                if existing.subscription == subscription:
                    raise ValueError(
                        f"agent {self.name!r} already has a handler for {event_type!r} on "
                        f"{subscription.topic.value} ({existing.function.__name__})"
                    )
            self.handlers.append(
                HandlerSpec(subscription, function, replies_with_result, response_event)
            )
            return function

        return decorator

    # ---- the record -----------------------------------------------------------------------

    def produced_event_names(self) -> frozenset[str] | None:
        """The event types this agent may publish, or None when it declared none."""
        if self.events_produced is None:
            return None
        return frozenset(_name_of(e) for e in self.events_produced)

    def subscriptions(self) -> list[Subscription]:
        """What the agent's handlers subscribe to, each once, in the order declared."""
        return _unique(h.subscription for h in self.handlers)

    def manifest(self) -> AgentManifest:
        """The typed, JSON-serializable record of this agent (for CDK, local cloud, registry)."""
        from soorma_common.definitions import EventDefinition
        from soorma_common.manifest import AgentManifest

        produced = self.produced_event_names()
        return AgentManifest(
            name=self.name,
            kind=self.kind,
            description=self.description,
            capabilities=self.capabilities,
            subscriptions=self.subscriptions(),
            events_consumed=[e for e in self.events_consumed if isinstance(e, EventDefinition)],
            events_produced=[
                e for e in self.events_produced or () if isinstance(e, EventDefinition)
            ],
            produced_event_names=None if produced is None else sorted(produced),
            llm_models=list(self.llm_models),
        )

    def transitions_for(self, from_state: str, to_state: str) -> Iterable[TransitionHandler]:
        """Plan-transition handlers for `from_state -> to_state` (only planners have any)."""
        return ()

    # ---- running --------------------------------------------------------------------------

    def find_handler(self, event: EventEnvelope) -> HandlerSpec | None:
        """The handler for an event: a result handler for replies addressed to this agent, else
        the most specific handler subscribed to the event's topic and type."""
        key = (event.topic, event.type, event.reply_to == self.name, len(self.handlers))
        try:
            return self._dispatch[key]
        except KeyError:
            if len(self._dispatch) > 1024:  # wildcard agents may see unboundedly many types
                self._dispatch.clear()
            found = self._dispatch[key] = self._select_handler(event)
            return found

    def _select_handler(self, event: EventEnvelope) -> HandlerSpec | None:
        candidates = [h for h in self.handlers if h.subscription.topic == event.topic]
        if event.reply_to == self.name:
            replies = [h for h in candidates if h.subscription.replies and h.matches(event.type)]
            if replies:
                return max(replies, key=HandlerSpec.specificity)
        plain = [h for h in candidates if not h.subscription.replies and h.matches(event.type)]
        return max(plain, key=HandlerSpec.specificity) if plain else None

    @property
    def runtime(self) -> LambdaRuntime:
        """The `LambdaRuntime` of this agent, built on first use."""
        if self._runtime is None:
            from soorma.runtime import LambdaRuntime

            self._runtime = LambdaRuntime(self)
        return self._runtime

    def use_runtime(self, runtime: LambdaRuntime) -> None:
        """Replace the runtime (e.g. one built with an in-memory transport for tests)."""
        self._runtime = runtime

    def lambda_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The Lambda entry point: an SQS batch in, `{"batchItemFailures": [...]}` out."""
        result: dict[str, Any] = self.runtime.handle_batch(event, context)
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, handlers={len(self.handlers)})"


def _name_of(declared: EventDeclaration) -> str:
    if isinstance(declared, str):
        return declared
    from soorma_common.definitions import EventDefinition

    return declared.event_name if isinstance(declared, EventDefinition) else str(declared)


def _unique(subscriptions: Iterable[Subscription]) -> list[Subscription]:
    seen: dict[Subscription, None] = {}
    for sub in subscriptions:
        seen.setdefault(sub, None)
    return list(seen)


def _check_handler(agent: str, event_type: str, function: Any) -> None:
    """Raise `TypeError` when the agent is defined if `function` cannot be a handler: it must be
    callable with two positional arguments, `(event, context)`."""
    where = f"the handler of {event_type!r} on agent {agent!r}"
    if not callable(function):
        raise TypeError(
            f"{where} is a {type(function).__name__} ({function!r:.60}), not a function: "
            "decorate a `def handle(event, context)` or pass one"
        )
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: it will tell at the call
        return
    try:
        signature.bind(None, None)
    except TypeError:
        name = getattr(function, "__name__", repr(function))
        raise TypeError(
            f"{where}, {name}{signature}, cannot be called as handler(event, context): "
            "handlers take exactly two positional arguments, the event and the context"
        ) from None
