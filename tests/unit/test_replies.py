"""Only a reply may be a failure reply: the failure shape on any other event is an ordinary
payload (checked against its schema)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soorma_common import EventEnvelope, EventTopic
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.replies import (
    failure_reply,
    has_failure_shape,
    is_addressed_reply,
    is_failure_reply,
    is_reply,
)
from soorma_common.routing import pattern_matches, rules_for

FAILURE = failure_reply("no stock for SKU-1")


def envelope(topic: EventTopic, reply_to: str | None = None) -> EventEnvelope:
    return EventEnvelope(
        source="soorma.inventory",
        type="inventory.reserved",
        topic=topic,
        data=FAILURE,
        reply_to=reply_to,
    )


@pytest.mark.parametrize("topic", [t for t in EventTopic if t is not EventTopic.ACTION_RESULTS])
def test_the_failure_shape_on_an_event_that_is_no_reply_is_no_failure_reply(
    topic: EventTopic,
) -> None:
    event = envelope(topic)
    assert has_failure_shape(event.data)
    assert not is_failure_reply(event.data, event)
    assert not is_failure_reply(event.data, topic=topic, reply_to=None)


def test_replies_may_be_failure_replies() -> None:
    on_results = envelope(EventTopic.ACTION_RESULTS)
    addressed = envelope(EventTopic.BUSINESS_FACTS, reply_to="order-processor")
    assert is_failure_reply(on_results.data, on_results)
    assert is_failure_reply(addressed.data, addressed)  # a reply on a response_topic of choice
    assert is_failure_reply(FAILURE, topic="action-results")
    assert is_failure_reply(FAILURE, topic=EventTopic.TASK_EVENTS, reply_to="planner")
    assert not is_failure_reply({**FAILURE, "sku": "A"}, on_results)


def test_the_shape_alone_warns_that_the_event_is_missing() -> None:
    with pytest.warns(DeprecationWarning, match="cannot tell a reply from other events"):
        assert is_failure_reply(FAILURE)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["success", "error", "sku"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    ),
    st.sampled_from(list(EventTopic)),
    st.none() | st.sampled_from(["", "order-processor"]),
)
def test_a_failure_reply_is_the_exact_shape_on_a_reply(
    data: dict[str, Any], topic: EventTopic, reply_to: str | None
) -> None:
    exact = data.keys() == {"success", "error"} and data["success"] is False
    shaped = exact and isinstance(data["error"], str)
    addressed = bool(reply_to) and topic is not EventTopic.ACTION_REQUESTS
    reply = addressed or topic is EventTopic.ACTION_RESULTS
    assert is_reply(topic, reply_to) == reply
    assert is_failure_reply(data, topic=topic, reply_to=reply_to) == (shaped and reply)
    assert not is_failure_reply([data], topic=EventTopic.ACTION_RESULTS)


def test_a_request_carrying_the_failure_shape_is_no_failure_reply() -> None:
    """The defect: a request names its requester in `reply_to`, and `is_reply` took it for a
    reply, so the failure shape skipped the request type's schema."""
    request = EventEnvelope(
        source="soorma.planner",
        type="research.requested",
        topic=EventTopic.ACTION_REQUESTS,
        data=FAILURE,
        reply_to="planner",
        response_event="research.done",
    )

    assert not is_reply(request.topic, request.reply_to, request.response_event)
    assert not is_failure_reply(request.data, request)
    assert not is_failure_reply(
        FAILURE, topic=request.topic, reply_to="planner", response_event="research.done"
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(EventTopic)),
    st.none() | st.sampled_from(["planner", "order-processor"]),
    st.none() | st.sampled_from(["research.done", "calc.done"]),
)
def test_the_routing_rules_and_the_reply_predicate_agree(
    topic: EventTopic, reply_to: str | None, response_event: str | None
) -> None:
    """A plain subscription's rule matches an event exactly when the event is no addressed reply;
    a reply subscription's rule exactly when it is one, addressed to the agent."""
    wire = EventEnvelope(
        source="soorma.x",
        type="calc.done",
        topic=topic,
        reply_to=reply_to,
        response_event=response_event,
    ).to_wire()
    event = {"source": "soorma.x", "detail-type": "calc.done", "detail": wire}
    plain = AgentManifest(
        name="observer",
        kind=AgentKind.AGENT,
        subscriptions=[Subscription(topic=topic, event_type="calc.done")],
    )
    addressed = is_addressed_reply(topic, reply_to, response_event)

    assert any(pattern_matches(r.pattern, event) for r in rules_for(plain)) == (not addressed)
    if topic is not EventTopic.ACTION_REQUESTS:
        listener = AgentManifest(
            name="planner",
            kind=AgentKind.AGENT,
            subscriptions=[Subscription(topic=topic, event_type="calc.done", replies=True)],
        )
        delivered = any(pattern_matches(r.pattern, event) for r in rules_for(listener))
        assert delivered == (addressed and reply_to == "planner")
