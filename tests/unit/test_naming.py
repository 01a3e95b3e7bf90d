"""Resource names: one function each, within AWS's length limits, reversible where needed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soorma_common import EventTopic, naming
from soorma_common.errors import InvalidEventTypeError

agents = st.from_regex(r"\A[a-z](-?[a-z0-9]){0,17}\Z")
stages = st.from_regex(r"\A[a-z][a-z0-9]{0,9}\Z")


@given(stage=stages, agent=agents, topic=st.sampled_from(list(EventTopic)))
def test_names_fit_aws_limits_and_round_trip(stage: str, agent: str, topic: EventTopic) -> None:
    queue = naming.queue_name(stage, agent, topic)
    assert len(naming.dead_letter_queue_name(queue)) <= 80
    assert naming.source_queue_name(naming.dead_letter_queue_name(queue)) == queue
    assert len(naming.rule_name(agent, topic, replies=True)) <= 64
    assert len(naming.function_name(stage, agent)) <= 64
    assert naming.agent_of_source(naming.event_source(agent)) == agent
    arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
    assert naming.queue_name_from_arn(arn) == queue


@pytest.mark.parametrize("name", ["", "Upper", "1abc", "a_b", "a--b", "a-", "x" * 37])
def test_invalid_agent_names_are_rejected_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match="lowercase letters"):
        naming.check_agent_name(name)


def test_table_roles_and_logical_ids() -> None:
    assert naming.table_name("dev", "idempotency") == "soorma-dev-idempotency"
    with pytest.raises(ValueError, match="unknown table role"):
        naming.table_name("dev", "cache")
    assert naming.logical_id("order-processor", "action-requests") == (
        "OrderProcessorActionRequests"
    )


@given(st.text(max_size=140))
def test_an_event_type_is_accepted_only_if_eventbridge_and_cloudevents_take_it_as_is(
    name: str,
) -> None:
    try:
        assert naming.check_event_type(name) == name
    except InvalidEventTypeError as exc:
        assert "invalid event type" in str(exc) and "domain.action" in str(exc)
        return
    assert 1 <= len(name) <= naming.MAX_EVENT_TYPE_LENGTH  # DetailType's limit
    assert name.isascii() and name.isprintable() and not any(c.isspace() for c in name)
    assert "*" not in name  # never mistaken for a subscription pattern
