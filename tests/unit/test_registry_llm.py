"""Events described for LLMs: deterministic text and tool specs (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from soorma.registry import EventRecord
from soorma.registry.llm import (
    MAX_TOOL_NAME,
    ToolNameError,
    describe_events,
    event_name_of_tool,
    event_name_of_tool_name,
    tool_name,
    tool_specs,
)

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


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
    assert [t["function"]["name"] for t in openai] == ["ticket-escalate", "ticket-route-tier2"]
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


def test_names_that_collided_before_get_distinct_tool_names() -> None:
    names = ["a.b", "a__b", "a_b", "a-b", "a._b", "a_.b", "a b", "a.b.", "a..b"]
    tools = [tool_name(n) for n in names]
    assert len(set(tools)) == len(names), dict(zip(names, tools, strict=True))
    assert tool_name("a.b") == "a-b" and tool_name("a__b") == "a____b"
    assert tool_name("plan.state_changed") == "plan-state__changed"
    assert [event_name_of_tool_name(t) for t in tools] == names


event_names = st.text(min_size=1, max_size=80)
usual_event_names = st.from_regex(
    r"[a-z][a-z0-9_]{0,15}(\.[a-z][a-z0-9_-]{0,15}){0,3}", fullmatch=True
)


@given(st.one_of(event_names, usual_event_names), st.one_of(event_names, usual_event_names))
def test_distinct_event_names_never_share_a_tool_name(first: str, second: str) -> None:
    try:
        encoded = tool_name(first), tool_name(second)
    except ToolNameError as exc:
        assert "tool names have 1 to 64" in str(exc)  # refused, clearly: never truncated
        return
    assert all(TOOL_NAME.fullmatch(t) for t in encoded)
    assert (encoded[0] == encoded[1]) == (first == second)
    assert event_name_of_tool_name(encoded[0]) == first


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.",
        min_size=64,
        max_size=64,
    )
)
def test_the_longest_plain_names_fit_and_one_more_character_is_refused(name: str) -> None:
    assert len(tool_name(name)) == MAX_TOOL_NAME
    with pytest.raises(ToolNameError, match=r"\(65 characters\), and tool names have 1 to 64"):
        tool_name(name + "x")


@pytest.mark.parametrize("name", ["", "a.b", "a_", "a_2", "a_zz", "a_2e", "_ff", "a b"])
def test_tool_names_that_encode_no_event_name_are_refused(name: str) -> None:
    with pytest.raises(ToolNameError):
        event_name_of_tool_name(name)
    assert event_name_of_tool(name, EVENTS) is None


def test_an_event_too_long_for_a_tool_name_is_refused_by_name() -> None:
    long = EventRecord(name="x" * 60 + ".done", topic="business-facts")
    with pytest.raises(ToolNameError, match=r"event 'x{60}\.done' has no tool name"):
        tool_specs([long, *EVENTS])
