"""The 8 fixed topics that every Soorma event travels on."""

from __future__ import annotations

from enum import StrEnum

from soorma_common.errors import UnknownTopicError


class EventTopic(StrEnum):
    """A Soorma topic. There are exactly eight; any other name is rejected."""

    ACTION_REQUESTS = "action-requests"
    """Work asked of an agent; requests name their `response_event`."""
    ACTION_RESULTS = "action-results"
    """Replies to requests, addressed to the requester with `reply_to`."""
    BUSINESS_FACTS = "business-facts"
    """Domain facts in the past tense (`order.placed`); no reply expected."""
    NOTIFICATION_EVENTS = "notification-events"
    """Notifications and requests for human input."""
    BILLING_EVENTS = "billing-events"
    """Usage and cost units, e.g. LLM tokens per action."""
    PLAN_EVENTS = "plan-events"
    """Plan lifecycle: `plan.started`, `plan.state_changed`, `plan.completed`, `plan.failed`."""
    TASK_EVENTS = "task-events"
    """Task lifecycle: `task.delegated`, `task.completed`, `task.failed`."""
    SYSTEM_EVENTS = "system-events"
    """The platform about itself: dead letters, circuit breakers, agent errors."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: EventTopic | str) -> EventTopic:
        """Return the topic named by `value`, or raise `UnknownTopicError` naming the 8 allowed."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise UnknownTopicError(
                f"unknown topic {value!r}: Soorma has exactly 8 topics ({allowed}); "
                "use one of them, e.g. EventTopic.BUSINESS_FACTS"
            ) from None
