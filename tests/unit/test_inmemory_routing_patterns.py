"""`pattern_matches` (what the in-memory bus routes with) against the rules' semantics.

Three judges must agree on every generated (subscription, event): the meaning of a subscription
(exact type, prefix `a.*`, `"*"`, replies by `replyto`), `soorma_common.routing.pattern_matches`
on the rule `rules_for` makes, and moto's own EventBridge pattern engine on the same rule. A
fourth property: whatever a rule delivers, the agent has a handler for (routing and dispatch agree).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from moto.events.models import EventPattern

from soorma import Agent
from soorma_common import EventTopic
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.routing import pattern_matches, rules_for

AGENT = "subscriber"
segments = st.text(alphabet="abc", min_size=1, max_size=3)
event_types = st.lists(segments, min_size=1, max_size=3).map(".".join)
topics = st.sampled_from(list(EventTopic))
type_patterns = st.one_of(
    st.just("*"),
    event_types,
    st.lists(segments, min_size=1, max_size=2).map(lambda parts: ".".join(parts) + ".*"),
)
reply_targets = st.one_of(st.none(), st.sampled_from([AGENT, "someone-else"]))


def bus_event(topic: EventTopic, event_type: str, reply_to: str | None) -> dict[str, Any]:
    """An EventBridge event as a rule sees it: envelope in `detail`, type in `detail-type`."""
    envelope = EventEnvelope(source="soorma.tests", type=event_type, topic=topic, reply_to=reply_to)
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


def the_rule(subscription: Subscription) -> dict[str, Any]:
    manifest = AgentManifest(name=AGENT, kind=AgentKind.AGENT, subscriptions=[subscription])
    [rule] = rules_for(manifest)
    return rule.pattern


def moto_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


@given(topics, type_patterns, topics, event_types, reply_targets)
def test_a_subscription_rule_matches_exactly_what_the_subscription_means(
    sub_topic: EventTopic, pattern: str, topic: EventTopic, event_type: str, reply_to: str | None
) -> None:
    rule = the_rule(Subscription(topic=sub_topic, event_type=pattern))
    event = bus_event(topic, event_type, reply_to)
    expected = topic == sub_topic and means(pattern, event_type)

    assert pattern_matches(rule, event) == expected
    assert moto_matches(rule, event) == expected


@given(type_patterns, topics, event_types, reply_targets)
def test_a_replies_rule_matches_replies_addressed_to_the_agent_whatever_their_type(
    pattern: str, topic: EventTopic, event_type: str, reply_to: str | None
) -> None:
    rule = the_rule(Subscription(topic=EventTopic.ACTION_RESULTS, event_type=pattern, replies=True))
    event = bus_event(topic, event_type, reply_to)
    expected = topic == EventTopic.ACTION_RESULTS and reply_to == AGENT

    assert pattern_matches(rule, event) == expected
    assert moto_matches(rule, event) == expected


@given(
    st.lists(st.tuples(topics, type_patterns), min_size=1, max_size=4, unique=True),
    topics,
    event_types,
)
def test_every_event_a_rule_delivers_has_a_handler(
    subscriptions: list[tuple[EventTopic, str]], topic: EventTopic, event_type: str
) -> None:
    agent = Agent(name=AGENT)
    for sub_topic, pattern in subscriptions:
        agent.on_event(pattern, topic=sub_topic)(lambda event, context: None)
    event = bus_event(topic, event_type, None)
    delivered = any(pattern_matches(r.pattern, event) for r in rules_for(agent.manifest()))
    envelope = EventEnvelope.from_wire(event["detail"])

    assert delivered == (agent.find_handler(envelope) is not None)
