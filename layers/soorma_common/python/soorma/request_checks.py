"""The checks `BusClient.request` makes before a request is buffered, worded for its caller."""

from __future__ import annotations

from typing import Any

from soorma_common.topics import EventTopic


def unreachable_reply(
    event_type: str,
    topic: EventTopic,
    given: Any,
    agent: str,
    reply_topics: frozenset[EventTopic],
) -> str:
    """What `UnreachableReplyError` says when the reply of `request(event_type, ...)` would come
    on `topic` (`given`: the `response_topic` passed, or None for the default), where `agent`
    has no result handler (its result handlers listen on `reply_topics`)."""
    listening = ", ".join(sorted(t.value for t in reply_topics)) or "no topic"
    if given is None:
        return (
            f"request({event_type!r}): agent {agent!r} has no result handler on {topic.value!r}, "
            f"where its reply comes (its result handlers listen on {listening}), so the reply "
            "would be lost. Add @agent.on_result(...) (it listens on action-results), or pass "
            "response_topic= one of the topics its result handlers listen on"
        )
    return (
        f"request({event_type!r}, response_topic={topic.value!r}): agent {agent!r} has no "
        f"result handler on {topic.value!r} (its result handlers listen on {listening}), so the "
        "reply would be lost. Leave response_topic out: replies then come on action-results, "
        "where @agent.on_result(...) listens"
    )
