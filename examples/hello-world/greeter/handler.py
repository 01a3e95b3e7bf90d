"""A Tool that answers `greeting.compose` requests; the reply goes to the requester."""

from soorma import Tool
from soorma_common import EventEnvelope

tool = Tool(name="greeter", capabilities=["greeting"])


@tool.on_invoke("greeting.compose")
def compose(event: EventEnvelope, context) -> dict:
    # The returned dict is the reply: its type is the request's `response_event`.
    return {"greeting": f"Hello, {event.data['name']}!"}


handler = tool.lambda_handler
