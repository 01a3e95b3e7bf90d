"""`soorma input PLAN --data ...` answers a plan waiting for input: the plan resumes with it."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from soorma.ai import ScriptedProvider
from soorma_common import EventTopic
from soorma_dev.cli import app
from tests.ai_world import ANSWER, RESEARCH_TOOL, planner, published, register, send_goal, workers


def test_soorma_input_resumes_a_waiting_plan(
    soorma_bus, soorma_tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ScriptedProvider(
        [
            ("wait_for_input", {"prompt": "Which ocean?"}),
            (RESEARCH_TOOL, {"topic": "tides in the Atlantic"}),
            ("complete", {"result": "Atlantic tides."}),
        ]
    )
    agents: list[Any] = [planner(model), *workers()]
    register(soorma_tables, agents)
    bus = soorma_bus(*agents)
    send_goal(bus)
    bus.run_until_idle()
    [waiting] = published(bus, "plan.waiting_for_input")
    monkeypatch.setattr("soorma_dev.cli.local_cloud.connect", lambda state_dir: bus)

    plan_id = waiting.data["plan_id"]
    arguments = ["input", plan_id, "--data", '"the Atlantic"', "--tenant", "acme"]
    result = CliRunner().invoke(app, [*arguments, "--user", "ada"])
    assert result.exit_code == 0, result.output
    assert f"sent plan.input_provided for plan {plan_id}" in result.output
    bus.run_until_idle()

    [given] = published(bus, "plan.input_provided")
    assert given.topic == EventTopic.NOTIFICATION_EVENTS
    assert given.data == {"plan_id": plan_id, "input": "the Atlantic"}
    assert model.requests[1].turns[-1].results[0].content == {"input": "the Atlantic"}
    assert published(bus, ANSWER)[0].data["result"] == "Atlantic tides."


def test_soorma_input_refuses_input_that_is_not_json() -> None:
    result = CliRunner().invoke(app, ["input", "p-1", "--data", "{not json"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "Traceback" not in result.output


def test_soorma_input_answers_a_state_machine_plans_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, Any, dict[str, Any]]] = []

    class Cloud:
        def send(self, event_type: str, data: Any, **attributes: Any) -> Any:
            sent.append((event_type, data, attributes))
            from soorma_common import EventEnvelope

            return EventEnvelope(source="soorma.cli", type=event_type, data=data, **attributes)

    monkeypatch.setattr("soorma_dev.cli.local_cloud.connect", lambda state_dir: Cloud())
    arguments = ["input", "r-1", "--to", "refunds", "--data", '{"approved": true}']
    result = CliRunner().invoke(app, [*arguments, "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    [(event_type, data, attributes)] = sent
    assert (event_type, data) == ("plan.input_provided", {"approved": True})
    assert attributes == {
        "topic": EventTopic.ACTION_RESULTS,
        "reply_to": "refunds",
        "causation_id": "r-1",
        "tenant_id": "acme",
    }
    assert "for request r-1 of refunds" in result.output
