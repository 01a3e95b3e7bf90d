"""`TaskContext` on moto with real agents: a worker delegates sub-tasks (in parallel and one by
one), gathers their replies (fan-in), and answers its own requester; lifecycle events go on
`task-events`; a retried result handler completes the task once."""

from __future__ import annotations

from typing import Any

from soorma import Tool, Worker
from soorma.workflows import TaskContext
from soorma_common import DomainError, EventEnvelope, EventTopic
from soorma_common.errors import TransientError
from soorma_dev.harness import MotoHarness, record_put_events


def build(*, fail_after_record: bool = False, sequential: bool = False) -> dict[str, Any]:
    seen: dict[str, Any] = {"completions": 0, "replies": [], "unknown": 0, "failures_left": 0}
    if fail_after_record:
        seen["failures_left"] = 1
    requester = Worker(name="requester")
    desk = Worker(name="trip-desk")
    tools = Tool(name="bookings")

    @requester.on_event("trip.wanted", topic=EventTopic.BUSINESS_FACTS)
    def wanted(event: EventEnvelope, context: Any) -> None:
        context.bus.request("trip.book", event.data, response_event="trip.booked")

    @requester.on_result("trip.booked")
    def booked(event: EventEnvelope, context: Any) -> None:
        seen["replies"].append(event)

    @desk.on_task("trip.book")
    async def book(event: EventEnvelope, context: Any) -> None:
        task = TaskContext.for_context(context)
        if sequential:
            await task.delegate("flight.book", {"to": event.data["to"]}, "flight.booked")
            await task.delegate("hotel.book", {"city": event.data["to"]}, "hotel.booked")
        else:
            await task.delegate_parallel(
                [
                    ("flight.book", {"to": event.data["to"]}, "flight.booked"),
                    {
                        "event_type": "hotel.book",
                        "data": {"city": event.data["to"]},
                        "response_event": "hotel.booked",
                    },
                ]
            )

    @desk.on_result()
    async def gathered(event: EventEnvelope, context: Any) -> None:
        task = await TaskContext.restore(context)
        if task is None:
            seen["unknown"] += 1
            return
        fan_in = await task.record_result()
        if seen["failures_left"] and fan_in.complete:
            seen["failures_left"] -= 1
            raise TransientError("fails after recording the last reply")
        if fan_in.complete:
            seen["completions"] += 1
            failed = [r for r in task.results.values() if not r.success]
            if failed:
                await task.fail(f"{failed[0].request_type} failed: {failed[0].data['error']}")
            else:
                await task.complete({"success": True, **task.results_by_type()})

    @tools.on_invoke("flight.book")
    def flight(event: EventEnvelope, context: Any) -> dict[str, Any]:
        if event.data["to"] == "Atlantis":
            raise DomainError("no flights to Atlantis")
        return {"flight": f"F-{event.data['to']}"}

    @tools.on_invoke("hotel.book")
    def hotel(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"hotel": f"H-{event.data['city']}"}

    seen["agents"] = [requester, desk, tools]
    return seen


def want(harness: MotoHarness, to: str) -> list[EventEnvelope]:
    with record_put_events() as calls:
        harness.send(
            "trip.wanted",
            {"to": to},
            topic=EventTopic.BUSINESS_FACTS,
            source="soorma.web",
            tenant_id="acme",
            user_id="ada",
        )
        harness.run_until_idle()
    return [EventEnvelope.from_wire(d) for d in calls.details()]


def test_parallel_delegation_fans_in_and_answers_the_requester(soorma_moto) -> None:
    seen = build()
    published = want(soorma_moto(*seen["agents"]), "Lisbon")

    [request] = [e for e in published if e.type == "trip.book"]
    [reply] = seen["replies"]
    assert reply.data == {
        "success": True,
        "flight.booked": [{"flight": "F-Lisbon"}],
        "hotel.booked": [{"hotel": "H-Lisbon"}],
    }
    assert (reply.causation_id, reply.reply_to) == (request.id, "requester")
    assert seen["completions"] == 1
    subs = [e for e in published if e.type in ("flight.book", "hotel.book")]
    assert {e.correlation_id for e in published} == {request.correlation_id}
    assert {e.causation_id for e in subs} == {request.id}
    lifecycle = [e for e in published if e.topic is EventTopic.TASK_EVENTS]
    assert [e.type for e in lifecycle] == ["task.delegated", "task.completed"]
    assert {r["request_id"] for r in lifecycle[0].data["requests"]} == {e.id for e in subs}
    assert lifecycle[1].data["task_id"] == request.id


def test_sequential_delegations_join_one_task(soorma_moto) -> None:
    seen = build(sequential=True)
    want(soorma_moto(*seen["agents"]), "Oslo")
    [reply] = seen["replies"]
    assert set(reply.data) == {"success", "flight.booked", "hotel.booked"}
    assert seen["completions"] == 1


def test_a_failed_sub_task_fails_the_task(soorma_moto) -> None:
    seen = build()
    published = want(soorma_moto(*seen["agents"]), "Atlantis")
    [reply] = seen["replies"]
    assert reply.data == {
        "success": False,
        "error": "flight.book failed: no flights to Atlantis",
    }
    assert "task.failed" in [e.type for e in published]


def test_a_result_handler_retried_after_the_fan_in_completes_once(soorma_moto) -> None:
    seen = build(fail_after_record=True)
    published = want(soorma_moto(*seen["agents"]), "Rome")
    assert seen["failures_left"] == 0  # the failure happened, and the retry completed the task
    assert seen["completions"] == 1
    assert len(seen["replies"]) == 1
    assert [e.type for e in published].count("task.completed") == 1


def test_a_reply_to_a_request_made_without_a_task_is_not_restored(soorma_moto) -> None:
    seen = build()
    desk = seen["agents"][1]

    @desk.on_event("ping.wanted", topic=EventTopic.BUSINESS_FACTS)
    def plain(event: EventEnvelope, context: Any) -> None:
        context.bus.request("hotel.book", {"city": "Nice"}, response_event="hotel.booked")

    harness = soorma_moto(*seen["agents"])
    harness.send(
        "ping.wanted",
        {},
        topic=EventTopic.BUSINESS_FACTS,
        source="soorma.web",
        tenant_id="acme",
        user_id="ada",
    )
    harness.run_until_idle()
    assert seen["unknown"] == 1


def test_two_workers_delegating_from_one_event_fan_in_apart(soorma_moto) -> None:
    """Both workers handle the same event (the task id of both): each gets its own group."""
    completed: dict[str, dict[str, Any]] = {}
    tools = Tool(name="backoffice")
    workers = [Worker(name="billing"), Worker(name="shipping")]
    for worker in workers:

        @worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
        async def placed(event: EventEnvelope, context: Any) -> None:
            name = context.agent.name
            await TaskContext.for_context(context).delegate(f"{name}.do", {}, f"{name}.done")

        @worker.on_result()
        async def done(event: EventEnvelope, context: Any) -> None:
            task = await TaskContext.restore(context)
            assert task is not None
            if (await task.record_result()).complete:
                completed[context.agent.name] = task.results_by_type()
                await task.complete({"success": True})

    @tools.on_invoke("billing.do")
    def bill(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"billed": True}

    @tools.on_invoke("shipping.do")
    def ship(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"shipped": True}

    harness = soorma_moto(*workers, tools)
    with record_put_events() as calls:
        harness.send(
            "order.placed",
            {"o": 1},
            topic=EventTopic.BUSINESS_FACTS,
            source="soorma.shop",
            tenant_id="acme",
            user_id="ada",
        )
        harness.run_until_idle()

    assert completed == {
        "billing": {"billing.done": [{"billed": True}]},
        "shipping": {"shipping.done": [{"shipped": True}]},
    }
    published = [EventEnvelope.from_wire(d) for d in calls.details()]
    done_by = sorted(e.data["agent"] for e in published if e.type == "task.completed")
    assert done_by == ["billing", "shipping"]
    [placed_event] = [e for e in published if e.type == "order.placed"]
    delegated = [e.data for e in published if e.type == "task.delegated"]
    assert {(d["agent"], d["task_id"]) for d in delegated} == {
        ("billing", placed_event.id),
        ("shipping", placed_event.id),
    }
