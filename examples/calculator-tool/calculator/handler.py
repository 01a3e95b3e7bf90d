"""A calculator Tool: add, multiply and divide requests, each answered with a reply.

Dividing by zero raises `DomainError`: the runtime replies `{"success": false, "error": ...}`
to the requester instead of retrying or dead-lettering the request.
"""

from soorma import Tool
from soorma_common import DomainError, EventEnvelope

tool = Tool(name="calculator", capabilities=["arithmetic"], default_response_event="math.answered")


@tool.on_invoke("math.add")
def add(event: EventEnvelope, context) -> dict:
    return {"success": True, "result": event.data["a"] + event.data["b"]}


@tool.on_invoke("math.multiply")
def multiply(event: EventEnvelope, context) -> dict:
    return {"success": True, "result": event.data["a"] * event.data["b"]}


@tool.on_invoke("math.divide")
def divide(event: EventEnvelope, context) -> dict:
    a, b = event.data["a"], event.data["b"]
    if b == 0:
        raise DomainError(f"cannot divide {a} by zero")
    return {"success": True, "result": a / b}


handler = tool.lambda_handler
