"""`EventTopic`: exactly the eight topics, anything else rejected with the allowed values."""

from __future__ import annotations

import pytest

from soorma_common import EventTopic
from soorma_common.errors import PermanentError, UnknownTopicError

EIGHT = {
    "action-requests",
    "action-results",
    "business-facts",
    "notification-events",
    "billing-events",
    "plan-events",
    "task-events",
    "system-events",
}


def test_there_are_exactly_eight_topics() -> None:
    assert {t.value for t in EventTopic} == EIGHT


@pytest.mark.parametrize("value", sorted(EIGHT))
def test_parse_accepts_names_and_members(value: str) -> None:
    assert EventTopic.parse(value) is EventTopic(value)
    assert EventTopic.parse(EventTopic(value)) is EventTopic(value)
    assert str(EventTopic(value)) == value


@pytest.mark.parametrize("value", ["orders", "Action-Requests", "", "action_requests"])
def test_anything_else_is_rejected_naming_the_allowed_values(value: str) -> None:
    with pytest.raises(UnknownTopicError) as raised:
        EventTopic.parse(value)
    message = str(raised.value)
    assert repr(value) in message
    assert all(name in message for name in EIGHT)
    assert isinstance(raised.value, PermanentError)
