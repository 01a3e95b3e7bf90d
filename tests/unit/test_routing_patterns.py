"""`rules_for` and `pattern_matches` against an independent matcher (moto's EventBridge pattern
engine), and against the agent's own dispatch (`find_handler`)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern

from soorma import Agent, Worker
from soorma_common import AgentManifest, EventEnvelope, EventTopic, Subscription
from soorma_common.routing import NOT_A_REPLY, pattern_matches, rules_for, type_filter

segments = st.sampled_from(["order", "orders", "research", "re", "task", "placed", "done", "x"])
event_types = st.lists(segments, min_size=1, max_size=3).map(".".join)
patterns = (
    st.just("*")
    | event_types
    | st.lists(segments, min_size=1, max_size=2).map(lambda parts: ".".join(parts) + ".*")
)
topics = st.sampled_from(list(EventTopic))
agent_names = st.sampled_from(["alpha", "beta", "gamma-1"])


def eventbridge_event(topic: EventTopic, event_type: str, reply_to: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"topic": topic.value, "type": event_type}
    if reply_to:
        detail["replyto"] = reply_to
    return {
        "version": "0",
        "id": "1",
        "source": "soorma.x",
        "detail-type": event_type,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@settings(max_examples=300)
@given(
    subscriptions=st.lists(st.tuples(topics, patterns, st.booleans()), min_size=1, max_size=4),
    name=agent_names,
    topic=topics,
    event_type=event_types,
    reply_to=st.none() | agent_names,
)
def test_our_matcher_agrees_with_eventbridge_semantics(
    subscriptions: list[tuple[EventTopic, str, bool]],
    name: str,
    topic: EventTopic,
    event_type: str,
    reply_to: str | None,
) -> None:
    manifest = AgentManifest(
        name=name,
        kind="agent",
        subscriptions=[
            Subscription(topic=t, event_type=p, replies=r and t is not EventTopic.ACTION_REQUESTS)
            for t, p, r in subscriptions
        ],
    )
    event = eventbridge_event(topic, event_type, reply_to)
    for rule in rules_for(manifest):
        reference = EventPattern.load(json.dumps(rule.pattern)).matches_event(event)
        assert pattern_matches(rule.pattern, event) == reference, rule.pattern


@settings(max_examples=300)
@given(
    subscriptions=st.lists(st.tuples(topics, patterns), min_size=1, max_size=4, unique=True),
    topic=topics,
    event_type=event_types,
)
def test_an_agent_has_a_handler_exactly_for_the_events_its_rules_deliver(
    subscriptions: list[tuple[EventTopic, str]], topic: EventTopic, event_type: str
) -> None:
    agent = Agent("delta")
    for sub_topic, pattern in subscriptions:
        agent.on_event(pattern, topic=sub_topic)(lambda event, context: None)
    event = eventbridge_event(topic, event_type, None)
    delivered = any(pattern_matches(r.pattern, event) for r in rules_for(agent.manifest()))
    envelope = EventEnvelope(source="soorma.x", type=event_type, topic=topic)
    assert (agent.find_handler(envelope) is not None) == delivered


def test_type_filters() -> None:
    assert type_filter("*") is None
    assert type_filter("research.*") == {"prefix": "research."}
    assert type_filter("order.placed") == "order.placed"


def test_rules_group_by_topic_and_reply_rules_match_reply_to_only() -> None:
    worker = Worker("planner-a")
    worker.on_event("goal.set")(lambda e, c: None)
    worker.on_event("plan.*")(lambda e, c: None)
    worker.on_result()(lambda e, c: None)
    rules = {r.name: r for r in rules_for(worker.manifest())}

    assert set(rules) == {
        "planner-a-action-requests",
        "planner-a-action-requests-2",
        "planner-a-action-results-replies",
    }
    not_a_reply = {"topic": ["action-requests"]}  # action-requests carries no replies
    assert rules["planner-a-action-requests"].pattern == {
        "detail": not_a_reply,
        "detail-type": ["goal.set"],
    }
    assert rules["planner-a-action-requests-2"].pattern == {
        "detail": not_a_reply,
        "source": [{"anything-but": ["soorma.planner-a"]}],
        "detail-type": [{"prefix": "plan."}],
    }
    replies = rules["planner-a-action-results-replies"].pattern
    assert replies == {
        "detail": {
            "topic": ["action-results"],
            "replyto": ["planner-a"],
            "responseevent": [{"exists": False}],
        }
    }


def test_an_exact_type_a_wildcard_also_covers_takes_only_the_agents_own_events() -> None:
    """`*` excludes the agent's own source; an exact type takes every source: the two rules are
    disjoint (another agent's `order.placed` arrives once, through the wildcard rule)."""
    agent = Agent("shop")
    agent.on_event("*", topic="business-facts")(lambda e, c: None)
    agent.on_event("order.placed", topic="business-facts")(lambda e, c: None)
    patterns = {r.name: r.pattern for r in rules_for(agent.manifest())}

    assert patterns == {
        "shop-business-facts": {
            "detail": {"topic": ["business-facts"], **NOT_A_REPLY},
            "source": ["soorma.shop"],
            "detail-type": ["order.placed"],
        },
        "shop-business-facts-2": {
            "detail": {"topic": ["business-facts"], **NOT_A_REPLY},
            "source": [{"anything-but": ["soorma.shop"]}],
        },
    }


def test_the_most_specific_handler_wins() -> None:
    agent = Agent("picky")
    agent.on_event("*", topic="business-facts")(lambda e, c: "any")
    agent.on_event("order.*", topic="business-facts")(lambda e, c: "prefix")
    agent.on_event("order.placed", topic="business-facts")(lambda e, c: "exact")

    def chosen(event_type: str) -> Any:
        spec = agent.find_handler(
            EventEnvelope(source="s", type=event_type, topic="business-facts")
        )
        assert spec is not None
        return spec.function(None, None)

    assert [chosen(t) for t in ("order.placed", "order.paid", "user.created")] == [
        "exact",
        "prefix",
        "any",
    ]


@given(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,125}\Z"))
def test_a_prefix_subscription_of_any_valid_type_routes_its_own_type(prefix: str) -> None:
    manifest = AgentManifest(
        name="alpha",
        kind="agent",
        subscriptions=[Subscription(topic=EventTopic.TASK_EVENTS, event_type=f"{prefix}.*")],
    )
    [rule] = rules_for(manifest)
    event = eventbridge_event(EventTopic.TASK_EVENTS, f"{prefix}.x", None)
    assert pattern_matches(rule.pattern, event)
    assert EventPattern.load(json.dumps(rule.pattern)).matches_event(event)
