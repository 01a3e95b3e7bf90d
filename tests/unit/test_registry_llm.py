"""Events described for LLMs: deterministic text and tool specs (pure)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from soorma.registry import EventRecord
from soorma.registry.llm import describe_events, event_name_of_tool, tool_name, tool_specs


class Tier2(BaseModel):
    ticket_id: str = Field(description="Ticket to route")
    severity: int = 1
    note: str | None = None


EVENTS = [
    EventRecord(
        name="ticket.route.tier2",
        topic="action-requests",
        description="Route to Tier 2",
        payload_schema=Tier2.model_json_schema(),
        response_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
        metadata={"when_to_use": "technical issues"},
    ),
    EventRecord(name="ticket.escalate", topic="action-requests"),
]


def test_text_is_compact_sorted_and_deterministic() -> None:
    text = describe_events(EVENTS)
    assert text == describe_events(list(reversed(EVENTS)))
    assert text == (
        "- ticket.escalate (topic action-requests, v1): no description\n"
        "  payload: any\n"
        "- ticket.route.tier2 (topic action-requests, v1): Route to Tier 2\n"
        "  when to use: technical issues\n"
        "  payload: {ticket_id: string (required) - Ticket to route, severity: integer, "
        "note: string|null}\n"
        "  response: {ok: boolean}"
    )


def test_openai_and_bedrock_tool_specs() -> None:
    openai = tool_specs(EVENTS, "openai")
    bedrock = tool_specs(EVENTS, "bedrock")
    assert [t["function"]["name"] for t in openai] == ["ticket__escalate", "ticket__route__tier2"]
    assert openai[1]["function"]["parameters"] == Tier2.model_json_schema()
    assert openai[1]["function"]["description"] == (
        "Publish ticket.route.tier2 on action-requests. Route to Tier 2 "
        "When to use: technical issues"
    )
    assert openai[0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert bedrock[1]["toolSpec"]["inputSchema"]["json"] == Tier2.model_json_schema()
    for spec in openai:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", spec["function"]["name"])
    assert event_name_of_tool(tool_name("ticket.route.tier2"), EVENTS) == "ticket.route.tier2"
