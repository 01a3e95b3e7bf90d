"""`pattern_matches` (what the in-memory bus routes with) against the rules' semantics.

Three judges must agree on every generated (subscriptions, event): the meaning of the
subscriptions (`delivers` below, written from docs/events-and-topics.md, independently of the
code), `soorma_common.routing.pattern_matches` on the rules `rules_for` makes, and moto's own
EventBridge pattern engine on the same rules. And the rules of one agent are disjoint: an event
reaches the agent's queue at most once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern

from soorma import Agent
from soorma_common import EventTopic
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.routing import pattern_matches, rules_for

AGENT = "subscriber"
OWN_SOURCE = f"soorma.{AGENT}"
segments = st.text(alphabet="abc", min_size=1, max_size=3)
event_types = st.lists(segments, min_size=1, max_size=3).map(".".join)
topics = st.sampled_from(
    [EventTopic.ACTION_REQUESTS, EventTopic.ACTION_RESULTS, EventTopic.BUSINESS_FACTS]
)
type_patterns = st.one_of(
    st.just("*"),
    event_types,
    st.lists(segments, min_size=1, max_size=2).map(lambda parts: ".".join(parts) + ".*"),
)
reply_targets = st.one_of(st.none(), st.sampled_from([AGENT, "someone-else"]))
#: A request names its requester in `replyto` too, and the reply's type in `responseevent`.
response_events = st.one_of(st.none(), st.just("calc.done"))
sources = st.sampled_from([OWN_SOURCE, "soorma.other", "com.example.shop"])


@st.composite
def subscriptions(draw: st.DrawFn) -> Subscription:
    topic = draw(topics)
    pattern = draw(type_patterns)
    if topic is not EventTopic.ACTION_REQUESTS and draw(st.booleans()):
        return Subscription(topic=topic, event_type=pattern, replies=True)
    return Subscription(
        topic=topic,
        event_type=pattern,
        include_replies=draw(st.booleans()),
        include_own_events=draw(st.booleans()),
    )


def bus_event(
    topic: EventTopic,
    event_type: str,
    reply_to: str | None,
    source: str = "soorma.tests",
    response_event: str | None = None,
) -> dict[str, Any]:
    """An EventBridge event as a rule sees it: envelope in `detail`, type in `detail-type`."""
    envelope = EventEnvelope(
        source=source,
        type=event_type,
        topic=topic,
        reply_to=reply_to,
        response_event=response_event,
    )
    return {
        "version": "0",
        "id": "0",
        "source": envelope.source,
        "detail-type": event_type,
        "account": "123456789012",
        "region": "us-east-1",
        "time": "2026-01-01T00:00:00Z",
        "resources": [],
        "detail": envelope.to_wire(),
    }


def means(pattern: str, event_type: str) -> bool:
    """What a subscription's event type means, written from the docs, independently of code."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def delivers(subs: list[Subscription], event: dict[str, Any]) -> bool:
    """Whether the agent with `subs` receives `event`, per docs/events-and-topics.md."""
    detail = event["detail"]
    topic, event_type, reply_to = detail["topic"], event["detail-type"], detail.get("replyto")
    is_reply = (
        reply_to is not None
        and "responseevent" not in detail
        and topic != EventTopic.ACTION_REQUESTS.value  # requests travel there, naming `replyto`
    )
    on_topic = [s for s in subs if s.topic == topic and means(s.event_type, event_type)]
    if is_reply and reply_to == AGENT and any(s.replies for s in subs if s.topic == topic):
        return any(s.replies for s in on_topic)
    for sub in on_topic:
        if sub.replies:
            continue
        if is_reply and not sub.include_replies:
            continue
        is_wildcard = sub.event_type == "*" or sub.event_type.endswith(".*")
        if is_wildcard and event["source"] == OWN_SOURCE and not sub.include_own_events:
            continue
        return True
    return False


def moto_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


@settings(max_examples=400)
@given(
    st.lists(subscriptions(), min_size=1, max_size=5),
    topics,
    event_types,
    reply_targets,
    sources,
    response_events,
)
def test_the_rules_deliver_exactly_what_the_subscriptions_mean_and_at_most_once(
    subs: list[Subscription],
    topic: EventTopic,
    event_type: str,
    reply_to: str | None,
    source: str,
    response_event: str | None,
) -> None:
    manifest = AgentManifest(name=AGENT, kind=AgentKind.AGENT, subscriptions=subs)
    event = bus_event(topic, event_type, reply_to, source, response_event)
    rules = rules_for(manifest)

    ours = [r.name for r in rules if pattern_matches(r.pattern, event)]
    motos = [r.name for r in rules if moto_matches(r.pattern, event)]

    assert ours == motos
    assert len(ours) <= 1, f"delivered twice by {ours}"
    assert bool(ours) == delivers(subs, event)


@given(type_patterns, event_types, reply_targets, response_events)
def test_a_plain_subscription_never_receives_a_reply(
    pattern: str, event_type: str, reply_to: str | None, response_event: str | None
) -> None:
    """The defect: `on_event("calc.done", topic="action-results")` on a third agent received
    replies addressed to someone else, and so did any `*` subscriber. Requests (which carry
    `replyto` and `responseevent`) still reach plain subscriptions: that is how work arrives."""
    manifest = AgentManifest(
        name=AGENT,
        kind=AgentKind.AGENT,
        subscriptions=[Subscription(topic=EventTopic.ACTION_RESULTS, event_type=pattern)],
    )
    event = bus_event(EventTopic.ACTION_RESULTS, event_type, reply_to, "soorma.x", response_event)
    [rule] = rules_for(manifest)
    is_reply = reply_to is not None and response_event is None
    expected = not is_reply and means(pattern, event_type)

    assert pattern_matches(rule.pattern, event) == expected
    assert moto_matches(rule.pattern, event) == expected


@pytest.mark.parametrize("pattern", ["*", "calc.*"])
def test_a_wildcard_does_not_receive_the_agents_own_events_unless_it_opts_in(
    pattern: str,
) -> None:
    event = bus_event(EventTopic.BUSINESS_FACTS, "calc.done", None, OWN_SOURCE)
    for opted_in in (False, True):
        sub = Subscription(
            topic=EventTopic.BUSINESS_FACTS, event_type=pattern, include_own_events=opted_in
        )
        manifest = AgentManifest(name=AGENT, kind=AgentKind.AGENT, subscriptions=[sub])
        [rule] = rules_for(manifest)
        assert pattern_matches(rule.pattern, event) is opted_in
        assert moto_matches(rule.pattern, event) is opted_in


def test_a_reply_rule_filters_by_the_reply_types_the_agent_handles() -> None:
    """Decision: filter at the rule. A reply of another type addressed to the agent is never
    delivered (so never dead-lettered as "no handler"); `on_result()` (`"*"`) takes every type."""
    typed = AgentManifest(
        name=AGENT,
        kind=AgentKind.WORKER,
        subscriptions=[
            Subscription(topic=EventTopic.ACTION_RESULTS, event_type="calc.done", replies=True)
        ],
    )
    every = AgentManifest(
        name=AGENT,
        kind=AgentKind.WORKER,
        subscriptions=[Subscription(topic=EventTopic.ACTION_RESULTS, event_type="*", replies=True)],
    )
    handled = bus_event(EventTopic.ACTION_RESULTS, "calc.done", AGENT)
    other = bus_event(EventTopic.ACTION_RESULTS, "stock.reserved", AGENT)
    [typed_rule], [every_rule] = rules_for(typed), rules_for(every)

    for matches in (pattern_matches, moto_matches):
        assert matches(typed_rule.pattern, handled)
        assert not matches(typed_rule.pattern, other)
        assert matches(every_rule.pattern, handled) and matches(every_rule.pattern, other)


@given(
    st.lists(st.tuples(topics, type_patterns), min_size=1, max_size=4, unique=True),
    topics,
    event_types,
    sources,
)
def test_every_event_a_rule_delivers_has_a_handler(
    subscriptions: list[tuple[EventTopic, str]], topic: EventTopic, event_type: str, source: str
) -> None:
    agent = Agent(name=AGENT)
    for sub_topic, pattern in subscriptions:
        agent.on_event(pattern, topic=sub_topic)(lambda event, context: None)
    event = bus_event(topic, event_type, None, source)
    delivered = any(pattern_matches(r.pattern, event) for r in rules_for(agent.manifest()))
    envelope = EventEnvelope.from_wire(event["detail"])

    if source != OWN_SOURCE:
        assert delivered == (agent.find_handler(envelope) is not None)
    elif delivered:
        assert agent.find_handler(envelope) is not None


def test_a_request_relying_on_the_responders_default_reply_type_reaches_the_responder() -> None:
    """A request names its requester (`replyto`) and may leave `responseevent` to the tool's
    default: on action-requests it is a request, never a reply."""
    sub = Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="calc.add")
    [rule] = rules_for(AgentManifest(name=AGENT, kind=AgentKind.TOOL, subscriptions=[sub]))
    request = bus_event(EventTopic.ACTION_REQUESTS, "calc.add", "caller")
    assert pattern_matches(rule.pattern, request) and moto_matches(rule.pattern, request)


def test_replies_are_refused_on_action_requests() -> None:
    with pytest.raises(ValueError, match="carries requests, never replies"):
        Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="*", replies=True)


def test_pattern_matches_refuses_operators_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="'suffix'"):
        pattern_matches({"source": [{"suffix": ".x"}]}, {"source": "a.x"})
