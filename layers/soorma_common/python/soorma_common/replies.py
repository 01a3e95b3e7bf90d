"""Failure replies: the one payload shape every requester understands, whatever its reply type.

A request's reply type (`responseevent`) usually has a schema for success. When the work fails
for a domain reason, the replier sends `{"success": false, "error": "<message>"}` under the same
reply type; that exact shape is exempt from the reply type's payload schema, on publish and on
consume, so that the requester receives it instead of dead-lettering it. Anything else (extra
keys, a non-string error, `success: true`) is an ordinary payload and is validated as usual.

Only a reply may be a failure reply: an event addressed to a requester (`reply_to`, as
`respond` sets it) or published on `action-results` (the replies' topic), and never a request
(which names its requester in `reply_to` and the reply's type in `response_event`). The same
payload on any other event (a business fact, a request, a notification) is checked against its
schema like any payload, so the failure shape cannot carry an unchecked payload past a consumer.

**One definition of "addressed reply"** (`is_addressed_reply`): `reply_to` set, no
`response_event`, not on `action-requests`. The routing rules (`soorma_common.routing`:
`NOT_A_REPLY` on every topic but `action-requests`, and the reply rules) express exactly this
predicate as event patterns; a property test holds the two together.
`is_reply` adds the replies' topic: a response to a request that named no requester travels on
`action-results` unaddressed (plain subscribers receive it) and may still be a failure reply.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

from soorma_common.topics import EventTopic

FAILURE_REPLY_KEYS = frozenset({"success", "error"})


class Addressed(Protocol):
    """What tells a reply from other events: an `EventEnvelope` has both attributes."""

    @property
    def topic(self) -> EventTopic | str | None:
        """The event's topic."""

    @property
    def reply_to(self) -> str | None:
        """The agent the event is addressed to, for a reply."""

    @property
    def response_event(self) -> str | None:
        """The reply type a request asks for (set on requests only)."""


def failure_reply(error: str) -> dict[str, Any]:
    """The payload of a failure reply carrying `error` (a message for humans and logs)."""
    return {"success": False, "error": error}


def has_failure_shape(data: Any) -> bool:
    """Whether `data` is exactly `{"success": false, "error": <string>}` (whatever the event)."""
    return (
        type(data) is dict
        and len(data) == 2
        and data.get("success") is False
        and type(data.get("error")) is str
        and data.keys() == FAILURE_REPLY_KEYS
    )


def is_addressed_reply(
    topic: EventTopic | str | None, reply_to: str | None, response_event: str | None
) -> bool:
    """Whether an event is a reply addressed to an agent: it names the agent (`reply_to`) and
    is not a request (no `response_event`, not on `action-requests`, the requests' topic). The
    routing rules deliver exactly these to reply subscriptions only."""
    if not reply_to or response_event:
        return False
    return topic is None or str(getattr(topic, "value", topic)) != (
        EventTopic.ACTION_REQUESTS.value
    )


def is_reply(
    topic: EventTopic | str | None, reply_to: str | None, response_event: str | None = None
) -> bool:
    """Whether an event is a reply: an addressed reply, or an event on `action-results` that is
    not a request."""
    if response_event:
        return False
    if reply_to:
        return is_addressed_reply(topic, reply_to, response_event)
    return topic is not None and str(getattr(topic, "value", topic)) == (
        EventTopic.ACTION_RESULTS.value
    )


def is_failure_reply(
    data: Any,
    event: Addressed | None = None,
    *,
    topic: EventTopic | str | None = None,
    reply_to: str | None = None,
    response_event: str | None = None,
) -> bool:
    """Whether `data` is a failure reply: the exact failure shape on a reply.

    Pass the event (`is_failure_reply(envelope.data, envelope)`) or, before an envelope exists,
    its `topic`, `reply_to` and `response_event`
    (`is_failure_reply(data, topic=topic, reply_to=reply_to, response_event=...)`).
    Called with `data` alone it only checks the shape and warns (`DeprecationWarning`): that
    form cannot tell a reply from a business fact, and call sites must pass the event.
    """
    if not has_failure_shape(data):
        return False
    if event is not None:
        return is_reply(event.topic, event.reply_to, event.response_event)
    if topic is None and reply_to is None:
        warnings.warn(
            "is_failure_reply(data) without the event cannot tell a reply from other events: "
            "pass the envelope, or topic= and reply_to=",
            DeprecationWarning,
            stacklevel=2,
        )
        return True
    return is_reply(topic, reply_to, response_event)
