"""Deadlines set outside handlers (issue 15): `EventPublisher.publish(..., timeout=)` for a
request an agent sends from a script gives the agent's result handler exactly one of the reply
and the timeout, as `bus.request(timeout=)` inside a handler; on moto (real Scheduler schedules,
fired as Scheduler would)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soorma import Worker
from soorma.publishing import EventPublisher
from soorma_common import EventTopic
from soorma_common.errors import InvalidEnvelopeError, PermanentError

LATER = timedelta(seconds=31)
TIMEOUT = {"success": False, "error": "timeout"}


def agents(answers: list[Any], fixed: dict[str, bool]) -> list[Worker]:
    """An asker that only receives results (its requests come from a script) and a solver
    that dead-letters until it is `fixed`."""
    asker = Worker(name="asker")

    @asker.on_result("answer.computed")
    def answered(event, context) -> None:
        answers.append(event.data)

    solver = Worker(name="solver")

    @solver.on_task("answer.compute")
    def solve(event, context) -> dict[str, Any]:
        if not fixed["solver"]:
            raise PermanentError("the solver is down")
        return {"success": True, "value": 42}

    return [asker, solver]


def ask(harness: Any, **options: Any) -> Any:
    publisher = EventPublisher("soorma.asker", bus=harness.platform.bus_name)
    return publisher.publish(
        EventTopic.ACTION_REQUESTS,
        "answer.compute",
        {"q": "?"},
        response_event="answer.computed",
        reply_to="asker",
        tenant_id="acme",
        **options,
    )


def test_a_scripts_request_times_out_once_when_nobody_answers(soorma_moto) -> None:
    answers: list[Any] = []
    fixed = {"solver": False}
    harness = soorma_moto(agents(answers, fixed))
    request = ask(harness, timeout=30)
    assert request.deadline is not None
    harness.run_until_idle()
    assert answers == [] and len(harness.dead_letters("solver")) == 1
    [schedule] = harness.session.client("scheduler").list_schedules()["Schedules"]
    assert schedule["Name"].startswith("soorma-timeout-")

    assert harness.fire_deadlines(datetime.now(UTC) + LATER) == 1
    harness.run_until_idle()
    assert answers == [TIMEOUT]

    fixed["solver"] = True  # the late reply, after a redrive: acknowledged, not delivered
    assert harness.redrive("solver") == 1
    harness.run_until_idle()
    assert answers == [TIMEOUT] and harness.dead_letters() == []


def test_a_reply_in_time_makes_the_scripts_deadline_harmless(soorma_moto) -> None:
    answers: list[Any] = []
    harness = soorma_moto(agents(answers, {"solver": True}))
    ask(harness, timeout=30)
    harness.run_until_idle()
    assert answers == [{"success": True, "value": 42}]

    assert harness.fire_deadlines(datetime.now(UTC) + LATER) == 1
    harness.run_until_idle()
    assert answers == [{"success": True, "value": 42}]


@pytest.mark.parametrize(
    ("source", "options", "problem"),
    [
        ("soorma.asker", {"reply_to": "someone-else"}, "addressed back to it"),
        ("billing-system", {"reply_to": "asker"}, "published as an agent"),
        ("soorma.asker", {"reply_to": "asker", "response_event": None}, "names its response"),
    ],
    ids=["reply-to-another-agent", "not-an-agent", "no-response-event"],
)
def test_a_timeout_on_anything_but_the_agents_own_request_is_refused(
    soorma_moto, source: str, options: dict[str, Any], problem: str
) -> None:
    harness = soorma_moto(agents([], {"solver": True}))
    publisher = EventPublisher(source, bus=harness.platform.bus_name)
    attributes = {"response_event": "answer.computed", **options}
    with pytest.raises(InvalidEnvelopeError, match=problem):
        publisher.publish(
            EventTopic.ACTION_REQUESTS, "answer.compute", {}, timeout=30, **attributes
        )
    harness.run_until_idle()
    assert harness.handlings("solver") == []  # nothing was put


def test_a_timeout_without_a_scheduler_is_refused_before_anything_is_put(
    soorma_moto, monkeypatch
) -> None:
    from soorma.config import settings

    harness = soorma_moto(agents([], {"solver": True}))
    monkeypatch.delenv("SOORMA_DEADLINE_ROLE_ARN")
    settings.cache_clear()
    with pytest.raises(InvalidEnvelopeError, match="need the idempotency table and a scheduler"):
        ask(harness, timeout=30)
    harness.run_until_idle()
    assert harness.handlings("solver") == []
