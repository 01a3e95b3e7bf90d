"""Subscriptions -> EventBridge rule patterns, and a matcher for those patterns.

`rules_for(manifest)` is the single place where an agent's subscriptions become event patterns;
the CDK stack and the local cloud both create exactly these rules. `pattern_matches` evaluates
the subset of EventBridge pattern syntax that Soorma emits (exact values and `prefix`), for the
in-memory transport and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from soorma_common.manifest import AgentManifest
from soorma_common.naming import WILDCARD, rule_name
from soorma_common.topics import EventTopic

__all__ = ["WILDCARD", "RuleSpec", "pattern_matches", "rules_for", "type_filter"]


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule: its name, the topic (and so the queue) it feeds, its pattern."""

    name: str
    topic: EventTopic
    pattern: dict[str, Any]
    replies: bool = False


def type_filter(event_type: str) -> str | dict[str, str] | None:
    """The `detail-type` filter of a subscription: exact, `{"prefix": ...}`, or None for `*`."""
    if event_type == WILDCARD:
        return None
    if event_type.endswith(".*"):
        return {"prefix": event_type[:-1]}
    return event_type


def rules_for(manifest: AgentManifest) -> list[RuleSpec]:
    """The rules that deliver an agent's subscriptions, one per (topic, replies), sorted by name."""
    grouped: dict[tuple[EventTopic, bool], list[str]] = {}
    for sub in manifest.subscriptions:
        grouped.setdefault((sub.topic, sub.replies), []).append(sub.event_type)
    rules = []
    for (topic, replies), types in grouped.items():
        detail: dict[str, Any] = {"topic": [topic.value]}
        pattern: dict[str, Any] = {"detail": detail}
        if replies:
            detail["replyto"] = [manifest.name]
        elif WILDCARD not in types:
            filters: list[Any] = []
            for event_type in sorted(set(types)):
                filters.append(type_filter(event_type))
            pattern["detail-type"] = filters
        rules.append(
            RuleSpec(
                name=rule_name(manifest.name, topic, replies=replies),
                topic=topic,
                pattern=pattern,
                replies=replies,
            )
        )
    return sorted(rules, key=lambda r: r.name)


def pattern_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether an EventBridge event (as put on the bus) matches `pattern`.

    Supports nested objects, lists of exact values and `{"prefix": ...}`; a missing field never
    matches. This is the subset of the pattern language that `rules_for` produces.
    """
    for key, expected in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not pattern_matches(expected, actual):
                return False
        elif not any(_value_matches(option, actual) for option in expected):
            return False
    return True


def _value_matches(option: Any, actual: Any) -> bool:
    if isinstance(option, dict):
        prefix = option.get("prefix")
        return isinstance(prefix, str) and isinstance(actual, str) and actual.startswith(prefix)
    if isinstance(actual, list):
        return option in actual
    return bool(option == actual)
