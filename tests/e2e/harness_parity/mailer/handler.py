"""Mails confirmations; its mail server is busy the first time it sees each event."""

import os
from pathlib import Path

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic, TransientError

agent = Agent(name="mailer")


@agent.on_event("order.confirmed", topic=EventTopic.BUSINESS_FACTS)
def mail(event: EventEnvelope, context) -> None:
    tried = Path(os.environ["PARITY_STATE"]) / f"mailer-tried-{event.id}"
    if not tried.exists():
        tried.touch()
        raise TransientError("mail server busy")


handler = agent.lambda_handler
