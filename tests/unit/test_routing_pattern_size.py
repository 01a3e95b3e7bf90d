"""Rule patterns stay within EventBridge's event-pattern size (2,048 characters by default):
`rules_for` splits a rule's types over numbered rules, disjoint, delivering the same events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from soorma_common import EventTopic
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.naming import rule_name
from soorma_common.routing import (
    MAX_PATTERN_CHARS,
    PatternTooLargeError,
    pattern_matches,
    pattern_size,
    rules_for,
)

AGENT = "a" * 36  # the longest agent name: the longest rule names
TOPIC = EventTopic.NOTIFICATION_EVENTS  # the longest topic name


def manifest(types: list[str], *, replies: bool = False) -> AgentManifest:
    topic = EventTopic.ACTION_RESULTS if replies else TOPIC
    return AgentManifest(
        name=AGENT,
        kind=AgentKind.AGENT,
        subscriptions=[Subscription(topic=topic, event_type=t, replies=replies) for t in types],
    )


def event(
    event_type: str, topic: EventTopic = TOPIC, reply_to: str | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {"topic": topic.value, "type": event_type}
    if reply_to:
        detail["replyto"] = reply_to
    return {"source": "soorma.other", "detail-type": event_type, "detail": detail}


def types(count: int) -> list[str]:
    return [f"com.example.notification.kind{i:03d}.sent" for i in range(count)]


def test_sixty_one_exact_types_would_overflow_one_pattern() -> None:
    """The defect: one rule per (agent, topic) holding every type; ~61 exceed 2,048."""
    one_rule = {"detail": {"topic": [TOPIC.value]}, "detail-type": types(61)}
    assert pattern_size(one_rule) > MAX_PATTERN_CHARS


@pytest.mark.parametrize("replies", [False, True])
def test_two_hundred_subscriptions_split_into_rules_within_the_limit(replies: bool) -> None:
    wanted = types(200)
    rules = rules_for(manifest(wanted, replies=replies))
    topic = EventTopic.ACTION_RESULTS if replies else TOPIC

    assert len(rules) > 1
    assert all(pattern_size(r.pattern) <= MAX_PATTERN_CHARS for r in rules)
    assert all(len(json.dumps(r.pattern, separators=(",", ":"))) <= 2048 for r in rules)
    assert [r.name for r in rules] == sorted(
        rule_name(AGENT, topic, replies=replies, part=n) for n in range(1, len(rules) + 1)
    )
    assert all(len(r.name) <= 64 for r in rules)
    reply_to = AGENT if replies else None
    for event_type in [*wanted, "com.example.other"]:
        bus_event = event(event_type, topic, reply_to)
        ours = [r.name for r in rules if pattern_matches(r.pattern, bus_event)]
        moto = [
            r.name
            for r in rules
            if EventPattern(json.dumps(r.pattern), r.pattern).matches_event(bus_event)
        ]
        assert ours == moto
        assert len(ours) == (event_type in wanted)


def test_a_raised_quota_makes_fewer_rules() -> None:
    default = rules_for(manifest(types(200)))
    raised = rules_for(manifest(types(200)), max_pattern_chars=4096)
    assert len(raised) < len(default)


def test_a_type_that_cannot_fit_is_refused_with_the_limit() -> None:
    with pytest.raises(PatternTooLargeError, match="over the limit of 100"):
        rules_for(manifest(types(1)), max_pattern_chars=100)


def test_rule_parts_are_bounded() -> None:
    assert rule_name(AGENT, TOPIC, part=99).endswith("-99")
    with pytest.raises(ValueError, match="out of range"):
        rule_name(AGENT, TOPIC, part=100)
