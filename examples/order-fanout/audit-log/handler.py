"""Keeps an audit line for every business fact, whatever its type (`"*"`)."""

from aws_lambda_powertools import Logger

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent(name="audit-log", capabilities=["audit"])
logger = Logger(service="audit-log")


@agent.on_event("*", topic=EventTopic.BUSINESS_FACTS)
def audit(event: EventEnvelope, context) -> None:
    logger.info(
        "audit",
        extra={"event_type": event.type, "event_id": event.id, "tenant_id": event.tenant_id},
    )


handler = agent.lambda_handler
