"""Subscriptions -> EventBridge rule patterns, and a matcher for those patterns.

`rules_for(manifest)` is the single place where an agent's subscriptions become event patterns;
the CDK stack and the local cloud both create exactly these rules. `pattern_matches` evaluates
the subset of EventBridge's pattern syntax that Soorma emits (exact values, `prefix`, `exists`,
`anything-but`), for the in-memory transport and tests; it is checked against moto's engine.

What the rules deliver (docs/events-and-topics.md, "Routing"):

- a reply is an event addressed to an agent (`detail.replyto`) that is not itself a request:
  not on `action-requests` and without `detail.responseevent` (requests name their requester in
  `replyto` and the reply's type in `responseevent`); the one definition is
  `soorma_common.replies.is_addressed_reply`, which these patterns express;
- a subscription that is not a reply subscription receives no reply (`NOT_A_REPLY`: `replyto`
  absent or `responseevent` present), unless it says `include_replies=True` (an observer of
  every reply, like the event log);
- a reply subscription (`replies=True`, `on_result`) receives the replies addressed to the agent
  whose type it names (`"*"`: all); replies of other types are not delivered (not dead-lettered
  as "no handler");
- a wildcard or prefix subscription never receives the agent's own events (`source`), unless it
  says `include_own_events=True`: an agent subscribed to `*` on a topic it publishes to does not
  trigger itself;
- the rules of one agent are disjoint: an event reaches an agent's queue at most once;
- no pattern exceeds `MAX_PATTERN_CHARS`: the types of a rule are split over numbered rules
  (`naming.rule_name(..., part=n)`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soorma_common.naming import WILDCARD, event_source, rule_name
from soorma_common.subscription import Subscription
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from soorma_common.manifest import AgentManifest

__all__ = [
    "MAX_PATTERN_CHARS",
    "NOT_A_REPLY",
    "WILDCARD",
    "PatternTooLargeError",
    "RuleSpec",
    "pattern_matches",
    "pattern_size",
    "rules_for",
    "type_filter",
]

#: The `detail` condition of events that are not replies: no `replyto`, or a request (which
#: names its requester in `replyto` and the reply's type in `responseevent`).
NOT_A_REPLY: dict[str, Any] = {
    "$or": [{"replyto": [{"exists": False}]}, {"responseevent": [{"exists": True}]}]
}

#: EventBridge's default maximum event-pattern size, in characters (the "Event pattern size"
#: quota; adjustable up to 4,096 on request: pass `max_pattern_chars` to `rules_for`).
MAX_PATTERN_CHARS = 2048


class PatternTooLargeError(ValueError):
    """A single event type cannot fit in a rule pattern within the size limit."""


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule: its name, the topic (and so the queue) it feeds, its pattern."""

    name: str
    topic: EventTopic
    pattern: dict[str, Any]
    replies: bool = False


@dataclass(frozen=True)
class _Selector:
    """The events of one topic a rule family selects: a condition on `detail` (replies or not;
    None: any), a `source` condition (None: any) and event-type patterns (`*`, `a.*`, exact)."""

    detail: dict[str, Any] | None
    source: list[Any] | None
    patterns: tuple[str, ...]


def type_filter(event_type: str) -> str | dict[str, str] | None:
    """The `detail-type` filter of a subscription: exact, `{"prefix": ...}`, or None for `*`."""
    if event_type == WILDCARD:
        return None
    if event_type.endswith(".*"):
        return {"prefix": event_type[:-1]}
    return event_type


def pattern_size(pattern: dict[str, Any]) -> int:
    """The size a pattern is checked against: its JSON text with `json.dumps`' default spacing
    (what the local cloud sends; CloudFormation's compact form is never longer)."""
    return len(json.dumps(pattern))


def rules_for(
    manifest: AgentManifest, *, max_pattern_chars: int = MAX_PATTERN_CHARS
) -> list[RuleSpec]:
    """The rules that deliver an agent's subscriptions, sorted by name.

    Per topic: the reply rules (`replies=True` subscriptions) and the rules of the other
    subscriptions, each split into numbered parts when its types would make a pattern longer
    than `max_pattern_chars`.
    """
    agent = manifest.name
    rules: list[RuleSpec] = []
    for topic in manifest.topics():
        subs = [s for s in manifest.subscriptions if s.topic is topic]
        reply_subs = [s for s in subs if s.replies]
        plain_subs = [s for s in subs if not s.replies]
        for replies, selectors in (
            (True, _reply_selectors(agent, reply_subs)),
            (False, _plain_selectors(agent, topic, plain_subs, bool(reply_subs))),
        ):
            patterns = [p for s in selectors for p in _patterns(topic, s, max_pattern_chars, agent)]
            rules += [
                RuleSpec(rule_name(agent, topic, replies=replies, part=n), topic, p, replies)
                for n, p in enumerate(patterns, start=1)
            ]
    return sorted(rules, key=lambda r: r.name)


def _reply_selectors(agent: str, subs: Sequence[Subscription]) -> list[_Selector]:
    if not subs:
        return []
    replies = {"replyto": [agent], "responseevent": [{"exists": False}]}
    return [_Selector(replies, None, _minimal(s.event_type for s in subs))]


def _plain_selectors(
    agent: str, topic: EventTopic, subs: Sequence[Subscription], has_reply_rule: bool
) -> list[_Selector]:
    """Disjoint selectors for the non-reply subscriptions of one topic.

    Events that are not replies for every subscription; replies (to anyone, or, when the agent
    has a reply rule on the topic, to anyone but itself) only for `include_replies` ones. Within
    one such condition the types split by source: patterns that take every source (exact types,
    `include_own_events`), those of them that a source-filtered wildcard also covers (then only
    from the agent itself), and the wildcards that exclude the agent's own source.
    """
    if not subs:
        return []
    own = event_source(agent)
    observers = [s for s in subs if s.include_replies]
    addressed: list[Any] = [{"anything-but": [agent]}] if has_reply_rule else [{"exists": True}]
    replies = {"replyto": addressed, "responseevent": [{"exists": False}]}
    conditions: list[tuple[dict[str, Any] | None, Sequence[Subscription]]]
    if topic is EventTopic.ACTION_REQUESTS or (len(observers) == len(subs) and not has_reply_rule):
        # Requests only (never replies) on action-requests; or every subscription wants every
        # event of the topic.
        conditions = [(None, subs)]
    else:
        conditions = [(NOT_A_REPLY, subs)]
        if observers:
            conditions.append((replies, observers))
    selectors: list[_Selector] = []
    for condition, group in conditions:
        any_source = _minimal(
            s.event_type for s in group if s.include_own_events or _is_exact(s.event_type)
        )
        others_only = tuple(
            p
            for p in _minimal(
                s.event_type for s in group if not (s.include_own_events or _is_exact(s.event_type))
            )
            if not any(q == p or _covers(q, p) for q in any_source)
        )
        free = tuple(p for p in any_source if not any(_covers(q, p) for q in others_only))
        overlap = tuple(p for p in any_source if p not in free)
        for source, patterns in (
            (None, free),
            ([own], overlap),
            ([{"anything-but": [own]}], others_only),
        ):
            if patterns:
                selectors.append(_Selector(condition, source, patterns))
    return selectors


def _is_exact(pattern: str) -> bool:
    return pattern != WILDCARD and not pattern.endswith(".*")


def _covers(wide: str, narrow: str) -> bool:
    """Whether every type `narrow` matches, `wide` matches too (and they differ)."""
    if wide == narrow or _is_exact(wide):
        return False
    if wide == WILDCARD:
        return True
    prefix = wide[:-1]
    return narrow != WILDCARD and narrow.startswith(prefix)


def _minimal(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns without duplicates and without those another one covers, sorted."""
    unique = set(patterns)
    return tuple(sorted(p for p in unique if not any(_covers(q, p) for q in unique)))


def _patterns(
    topic: EventTopic, selector: _Selector, limit: int, agent: str
) -> list[dict[str, Any]]:
    """The patterns of one selector: one, or several when its types outgrow `limit`."""
    detail: dict[str, Any] = {"topic": [topic.value]}
    if selector.detail is not None:
        detail.update(copy.deepcopy(selector.detail))
    base: dict[str, Any] = {"detail": detail}
    if selector.source is not None:
        base["source"] = selector.source
    if WILDCARD in selector.patterns:
        return [base]
    chunks: list[dict[str, Any]] = []
    chunk: list[Any] = []
    for pattern in selector.patterns:
        candidate = {**base, "detail-type": [*chunk, type_filter(pattern)]}
        if pattern_size(candidate) <= limit:
            chunk = candidate["detail-type"]
            continue
        if not chunk:
            raise PatternTooLargeError(
                f"the rule pattern of agent {agent!r} for {pattern!r} on {topic.value} is "
                f"{pattern_size(candidate)} characters, over the limit of {limit}: raise "
                "max_pattern_chars (EventBridge's quota goes up to 4,096)"
            )
        chunks.append({**base, "detail-type": chunk})
        chunk = [type_filter(pattern)]
    chunks.append({**base, "detail-type": chunk})
    return chunks


def pattern_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether an EventBridge event (as put on the bus) matches `pattern`.

    Supports nested objects, `"$or": [pattern, ...]`, and lists of alternatives: exact values,
    `{"prefix": s}`, `{"exists": bool}` and `{"anything-but": value | [values] | {"prefix": s}}`.
    A missing field matches only `{"exists": false}`. Any other operator raises `ValueError`:
    this matcher must never guess (the in-memory bus routes with it).
    """
    for key, expected in pattern.items():
        if key == "$or":
            if not any(pattern_matches(alternative, event) for alternative in expected):
                return False
        elif isinstance(expected, dict):
            actual = event.get(key)
            if not isinstance(actual, dict) or not pattern_matches(expected, actual):
                return False
        elif not any(_value_matches(option, key in event, event.get(key)) for option in expected):
            return False
    return True


def _value_matches(option: Any, present: bool, actual: Any) -> bool:
    if not isinstance(option, dict):
        if not present:
            return False
        return option in actual if isinstance(actual, list) else bool(option == actual)
    [(operator, operand)] = option.items()
    if operator == "exists":
        return present is operand
    if not present:
        return False
    values = actual if isinstance(actual, list) else [actual]
    if operator == "prefix":
        return any(isinstance(v, str) and v.startswith(operand) for v in values)
    if operator == "anything-but":
        if isinstance(operand, dict):  # {"anything-but": {"prefix": ...}}
            return any(not _value_matches(operand, True, v) for v in values)
        excluded = operand if isinstance(operand, list) else [operand]
        return any(v not in excluded for v in values)
    raise ValueError(f"pattern operator {operator!r} is not supported by pattern_matches")
