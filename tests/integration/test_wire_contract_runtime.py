"""A handler that publishes an invalid envelope fails its record permanently (issue 10): the
record goes to the DLQ at once with a reason naming the attribute, nothing is published, and
nothing is retried. Before, a pydantic `ValidationError` was treated as transient."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness

FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.mark.parametrize(
    ("publish", "fragment"),
    [
        ({"event_type": "order noted"}, "type: invalid event type 'order noted'"),
        ({"data": {"score": math.nan}}, "data: holds nan"),
        ({"sesion_id": "s-1"}, "unknown envelope attribute(s) sesion_id"),
        ({"subject": ""}, "subject: must not be empty"),
    ],
    ids=["white space type", "NaN data", "typo keyword", "empty subject"],
)
def test_an_invalid_publish_is_a_permanent_failure_naming_the_attribute(
    publish: dict[str, Any], fragment: str
) -> None:
    agent = Agent("noter")

    @agent.on_event("order.placed", topic=FACTS)
    def note(event: EventEnvelope, context: Any) -> None:
        arguments = {"event_type": "order.noted", "data": {"n": 1}, **publish}
        context.bus.announce(**arguments)

    harness = MotoHarness([agent])
    harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    delivery = harness.deliver("noter", FACTS)

    assert delivery.failed_ids == []  # permanent: dead-lettered now, never retried
    [dead] = harness.dead_letters("noter")
    assert dead.kind == "permanent-error"
    assert (dead.reason or "").startswith("InvalidEnvelopeError: ")
    assert fragment in (dead.reason or "")
    assert harness.queue_depth("noter", FACTS) == 0
