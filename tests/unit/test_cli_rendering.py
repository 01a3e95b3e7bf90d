"""What the CLI prints (trace trees, dead letters, live lines) and how it judges a scenario run,
from the local cloud's own record types (`TraceNode`, `Handling`, `DeadLetter`, `ActivityLine`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev import rendering
from soorma_dev.cli.errors import CommandError
from soorma_dev.cli.parsing import parse_data
from soorma_dev.localcloud import ActivityLine, DeadLetter, Handling, TraceNode
from soorma_dev.scenarios import (
    Expectations,
    Observed,
    Scenario,
    ScenarioError,
    ScenarioRun,
    unmet_expectations,
)
from soorma_dev.testing import Outcome


def text_of(renderable: Any) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def envelope(event_type: str, source: str = "soorma.cli", **fields: Any) -> EventEnvelope:
    return EventEnvelope(
        source=source, type=event_type, topic=fields.pop("topic", "business-facts"), **fields
    )


def handling(agent: str, outcome: Outcome, time: str, reason: str | None = None) -> Handling:
    """A handling as the local cloud records it (the ids do not matter to the renderers)."""
    return Handling(agent, "business-facts", None, None, "m-1", 1, outcome, reason, time)


def fanout_trace() -> tuple[EventEnvelope, list[TraceNode]]:
    placed = envelope("order.placed", data={"order_id": "o-1"})
    reserve = envelope(
        "stock.reserve",
        "soorma.inventory",
        topic="action-requests",
        correlation_id=placed.correlation_id,
        causation_id=placed.id,
        reply_to="inventory",
    )
    root = TraceNode(
        placed,
        [
            handling("inventory", "handled", "2026-11-27T01:00:00.100000Z"),
            handling("notifier", "failed", "2026-11-27T01:00:00.200000Z", "TransientError: x"),
            handling("notifier", "handled", "2026-11-27T01:00:01.300000Z"),
        ],
        [TraceNode(reserve, [handling("warehouse", "handled", "2026-11-27T01:00:00.400000Z")])],
    )
    return placed, [root]


# ---- trace trees -----------------------------------------------------------------------------


def test_trace_tree_shows_each_event_under_its_cause_with_agent_outcome_and_time() -> None:
    placed, roots = fanout_trace()
    lines = text_of(rendering.trace_tree(placed.correlation_id, roots)).splitlines()

    assert lines[0] == f"trace {placed.correlation_id}"
    assert lines[1].startswith("└── order.placed  [business-facts]  from soorma.cli")
    assert "✔ inventory handled  01:00:00.100" in lines[2]
    assert "↻ notifier failed  01:00:00.200  TransientError: x" in lines[3]
    assert "✔ notifier handled  01:00:01.300" in lines[4]
    reserve = next(i for i, line in enumerate(lines) if "stock.reserve" in line)
    assert "reply to inventory" in lines[reserve]
    assert "✔ warehouse handled" in lines[reserve + 1]
    indent = lines[reserve + 1].index("✔")
    assert indent > lines[reserve].index("stock.reserve")  # the handling sits under its event


def test_trace_tree_says_when_nothing_was_recorded() -> None:
    assert "no events recorded" in text_of(rendering.trace_tree("c-1", []))


def test_walk_visits_parents_before_children() -> None:
    _, roots = fanout_trace()
    assert [n.envelope.type for n in rendering.walk(roots)] == ["order.placed", "stock.reserve"]


# ---- dead letters and live lines -------------------------------------------------------------


def dead_letter(reason: str | None = "UnreadableOrderError: total '12,50'\nmore detail") -> Any:
    event = envelope("order.placed", data={"order_id": "o-poison"})
    body = json.dumps({"detail-type": "order.placed", "detail": event.to_wire()})
    return DeadLetter(
        agent="order-validator",
        topic="business-facts",
        queue="soorma-local-order-validator-business-facts",
        dlq_url="http://127.0.0.1:1/123/soorma-local-order-validator-business-facts-dlq",
        message_id="5f1c0d5e-0000-4000-8000-000000000001",
        kind="permanent-error",
        reason=reason,
        body=body,
        envelope=event,
    )


def test_dead_letter_table_has_one_row_per_letter_with_the_first_line_of_the_reason() -> None:
    text = text_of(rendering.dead_letter_table([dead_letter(), dead_letter(None)]))
    assert "2 dead letter(s)" in text
    assert text.count("order-validator") == 2
    assert "permanent-error" in text
    assert "UnreadableOrderError: total '12,50'" in text
    assert "more detail" not in text


def test_dead_letter_detail_shows_where_it_came_from_why_and_its_body() -> None:
    letter = dead_letter()
    text = text_of(rendering.dead_letter_detail(letter))
    for expected in (letter.message_id, letter.queue, letter.dlq_url, "more detail", '"o-poison"'):
        assert expected in text


def test_activity_line_has_time_topic_type_agent_outcome_and_reason() -> None:
    line = ActivityLine(
        time="2026-11-27T01:02:03.456789Z",
        topic="business-facts",
        event_type="order.placed",
        agent="order-validator",
        outcome="dead-lettered",
        event_id="e-1",
        correlation_id="0412f3f7-1515-454b-aaef-838d08663992",
        reason="UnreadableOrderError: no\nsecond line",
    )
    text = text_of(rendering.activity_line(line)).strip()
    assert text.split()[:6] == [
        "01:02:03.456",
        "business-facts",
        "order.placed",
        "order-validator",
        "dead-lettered",
        "0412f3f7",
    ]
    assert text.endswith("UnreadableOrderError: no")


ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)


@given(correlation=ANY_JSON, topic=ANY_JSON, event_type=ANY_JSON, reason=ANY_JSON)
def test_an_activity_line_renders_whatever_json_an_event_carried(
    correlation: Any, topic: Any, event_type: Any, reason: Any
) -> None:
    # A malformed event (a correlationid that is a number or an object) is dead-lettered by the
    # runtime; its activity line must not stop the live view of `soorma dev`.
    line = ActivityLine.from_dict(
        {
            "time": "2026-11-27T01:02:03Z",
            "topic": topic,
            "event_type": event_type,
            "agent": "order-validator",
            "outcome": "dead-lettered",
            "event_id": correlation,
            "correlation_id": correlation,
            "reason": reason,
        }
    )
    text = text_of(rendering.activity_line(line))
    assert "order-validator" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12345678901, "12345678"),
        ({"a": 1}, '{"a":1}'),
        ([1, 2], "[1,2]"),
        (True, "true"),
        (None, "-"),
        ("", "-"),
        ("0412f3f7-1515", "0412f3f7"),
    ],
)
def test_short_id_takes_any_json_value(value: Any, expected: str) -> None:
    assert rendering.short_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2026-11-27T01:02:03Z", "01:02:03.000"), ("not a time", "not a time")],
)
def test_short_time(value: str, expected: str) -> None:
    assert rendering.short_time(value) == expected


# ---- parsing --data --------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_data_round_trips_any_json_value(value: Any) -> None:
    assert parse_data(json.dumps(value)) == value


@given(st.text().filter(lambda t: not t.startswith("@") and not _is_json(t)))
def test_data_that_is_not_json_is_a_command_error(text: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_data(text)
    assert "not valid JSON" in raised.value.message
    assert raised.value.hint


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---- scenarios -------------------------------------------------------------------------------


def test_a_scenario_loads_with_extra_envelope_attributes(tmp_path: Path) -> None:
    spec = {
        "name": "s",
        "send": [
            {
                "topic": "action-requests",
                "event_type": "greeting.compose",
                "data": {"name": "Ada"},
                "response_event": "greeting.composed",
            }
        ],
        "expect": {"handled": [["greeter", "greeting.compose"]], "dead_letters": 0},
    }
    (tmp_path / "scenario.json").write_text(json.dumps(spec))
    scenario = Scenario.load(tmp_path)
    (event,) = scenario.send
    assert event.topic is EventTopic.ACTION_REQUESTS
    assert event.envelope_attributes() == {"response_event": "greeting.composed"}
    assert scenario.expect.handled == [("greeter", "greeting.compose")]


def test_a_scenario_with_an_unknown_topic_names_the_file(tmp_path: Path) -> None:
    spec = {"name": "s", "send": [{"topic": "orders", "event_type": "order.placed"}]}
    (tmp_path / "scenario.json").write_text(json.dumps(spec))
    with pytest.raises(ScenarioError, match=r"scenario.json: send.0.topic: unknown topic 'orders'"):
        Scenario.load(tmp_path)


def run_of(roots: list[TraceNode], letters: int = 0) -> ScenarioRun:
    return ScenarioRun(
        sent=[roots[0].envelope],
        traces={roots[0].envelope.correlation_id: roots},
        dead_letters=[dead_letter()] * letters,
    )


def test_expectations_compare_handlings_and_publications_as_multisets() -> None:
    _, roots = fanout_trace()
    observed = Observed.of(run_of(roots), {"inventory", "notifier", "warehouse"})
    met = Expectations(
        handled=[
            ("inventory", "order.placed"),
            ("notifier", "order.placed"),
            ("warehouse", "stock.reserve"),
        ],
        published=["order.placed", "stock.reserve"],
        dead_letters=0,
    )
    assert unmet_expectations(met, observed) == []

    unmet = Expectations(
        handled=[("inventory", "order.placed"), ("inventory", "order.placed")],
        published=["order.placed"],
        dead_letters=1,
    )
    assert unmet_expectations(unmet, observed) == [
        "missing handling: ('inventory', 'order.placed') (expected 2, found 1)",
        "unexpected handling: ('notifier', 'order.placed') (expected 0, found 1)",
        "unexpected handling: ('warehouse', 'stock.reserve') (expected 0, found 1)",
        "unexpected published event: stock.reserve (expected 0, found 1)",
        "expected 1 dead letter(s), found 0",
    ]


def test_handlings_by_agents_outside_the_scenario_are_not_counted() -> None:
    _, roots = fanout_trace()
    observed = Observed.of(run_of(roots), {"inventory"})
    assert dict(observed.handled) == {("inventory", "order.placed"): 1}


def test_what_happened_since_is_the_difference_of_two_observations() -> None:
    _, roots = fanout_trace()
    before = Observed.of(run_of(roots[:]), {"warehouse"})
    roots[0].children[0].children.append(
        TraceNode(
            envelope("stock.reserved", "soorma.warehouse"),
            [handling("warehouse", "handled", "2026-11-27T01:00:02Z")],
        )
    )
    since = Observed.of(run_of(roots), {"warehouse"}) - before
    assert dict(since.handled) == {("warehouse", "stock.reserved"): 1}
    assert dict(since.published) == {"stock.reserved": 1}


def _plan_event(event_type: str, data: dict[str, Any]) -> EventEnvelope:
    return EventEnvelope(
        source="soorma.planner",
        type=event_type,
        topic="plan-events",
        data={"plan_id": "1a2b3c4d-plan", **data},
    )


def test_plan_events_show_the_plans_state_in_the_trace() -> None:
    from soorma_dev.rendering import plan_summary

    completed = _plan_event("plan.completed", {"status": "completed", "state": "fulfilled"})
    moved = _plan_event("plan.state_changed", {"from_state": "fulfilling", "to_state": "fulfilled"})
    assert plan_summary(completed) == "plan 1a2b3c4d: completed, state fulfilled"
    assert plan_summary(moved) == "plan 1a2b3c4d: fulfilling -> fulfilled"
    assert plan_summary(_plan_event("plan.started", {})) == "plan 1a2b3c4d: started"
    other = EventEnvelope(source="soorma.a", type="order.placed", topic="business-facts", data={})
    assert plan_summary(other) is None


def test_a_models_decision_shows_the_tool_tokens_repairs_and_reason() -> None:
    from soorma_dev.rendering import plan_summary

    decided = _plan_event(
        "plan.decision",
        {
            "tool": "draft-requested",
            "reason": "The research is in; now a draft.",
            "input_tokens": 812,
            "output_tokens": 40,
            "repairs": 1,
        },
    )
    assert plan_summary(decided) == (
        'plan 1a2b3c4d: chose draft-requested, 812+40 tokens, 1 repair: "The research is in; '
        'now a draft."'
    )
    silent = _plan_event(
        "plan.decision", {"tool": "complete", "reason": "", "input_tokens": 9, "output_tokens": 2}
    )
    assert plan_summary(silent) == "plan 1a2b3c4d: chose complete, 9+2 tokens"
