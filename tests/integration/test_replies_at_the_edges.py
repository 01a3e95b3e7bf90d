"""Request/reply and request deadlines at their edges, on moto: replies late, twice, forged,
from elsewhere; timeouts out of range; deadlines set by hand; fan-out; loops; huge failures.

Every reply here travels as it would on AWS: a real PutEvents into the moto bus, routed by the
real rules into the requester's queue, and delivered as an SQS record wrapping the EventBridge
event. Deadlines fire through `MotoHarness.fire_deadlines(now)` (a later `now` skips ahead;
no wall-clock bound anywhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soorma import Tool, Worker
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import DomainError, PermanentError
from tests.unit.test_runtime_reply_outcomes import bad_deadline_caller

FACTS = EventTopic.BUSINESS_FACTS
RESULTS = EventTopic.ACTION_RESULTS
TIMEOUT = {"success": False, "error": "timeout"}
LATER = timedelta(seconds=31)


def later(delta: timedelta = LATER) -> datetime:
    return datetime.now(UTC) + delta


def asker_and_solver(
    answers: list[EventEnvelope],
    behaviour: dict[str, Any],
    *,
    timeout: float | None = 30,
    consumed: tuple[Any, ...] = (),
) -> list[Any]:
    """`asker` requests `answer.compute` (a 30 s deadline by default) and keeps what its result
    handler gets (failing first `behaviour["asker-fails"]` times, transiently); `solver`
    answers, dead-letters, or fails as `behaviour["solver"]` says."""
    asker = Worker(name="asker", events_consumed=consumed)

    @asker.on_event("question.asked", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("answer.compute", event.data, "answer.computed", timeout=timeout)

    @asker.on_result("answer.computed")
    def answered(event: EventEnvelope, context: Any) -> None:
        if behaviour.get("asker-fails"):
            behaviour["asker-fails"] -= 1
            raise RuntimeError("a throttled dependency")  # transient: retried
        answers.append(event)

    solver = Tool(name="solver")

    @solver.on_invoke("answer.compute", response_event="answer.computed")
    def solve(event: EventEnvelope, context: Any) -> dict[str, Any]:
        mode = behaviour.get("solver", "answer")
        if mode == "dead":
            raise PermanentError("the solver cannot answer yet")
        if mode == "huge-error":
            raise DomainError("the solver choked: " + "x" * 300_000)
        return {"success": True, "value": 42}

    return [asker, solver]


def the_request(harness: Any) -> EventEnvelope:
    [request] = [e for e in harness.published if e.type == "answer.compute"]
    return request


def forged_reply(request: EventEnvelope, **changes: Any) -> EventEnvelope:
    """A reply to `request` as a responder would put it (PutEvents from outside a handler)."""
    attributes: dict[str, Any] = {
        "source": "soorma.solver",
        "type": "answer.computed",
        "topic": RESULTS,
        "data": {"success": True, "value": 7},
        "correlation_id": request.correlation_id,
        "causation_id": request.id,
        "reply_to": "asker",
        "tenant_id": request.tenant_id,
        "user_id": request.user_id,
    }
    attributes.update(changes)
    return EventEnvelope(**attributes)


def asked(soorma_moto: Any, behaviour: dict[str, Any], **options: Any) -> tuple[Any, list[Any]]:
    answers: list[EventEnvelope] = []
    harness = soorma_moto(asker_and_solver(answers, behaviour, **options))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme", user_id="ada")
    harness.run_until_idle()
    return harness, answers


def dead_reasons(harness: Any, agent: str) -> list[str]:
    return [d.reason or "" for d in harness.dead_letters(agent)]


# ---- exactly one of reply and timeout -----------------------------------------------------


def test_a_reply_after_the_timeout_is_acknowledged_never_delivered(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    assert harness.fire_deadlines(later()) == 1
    harness.run_until_idle()
    harness.put(forged_reply(the_request(harness)))  # the reply, a minute too late
    harness.run_until_idle()
    assert [a.data for a in answers] == [TIMEOUT]
    assert harness.dead_letters("asker") == []


def test_reply_and_timeout_in_one_batch_deliver_one_outcome(soorma_moto) -> None:
    answers: list[EventEnvelope] = []
    harness = soorma_moto(asker_and_solver(answers, {}))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.deliver("asker", FACTS)
    harness.deliver("solver", EventTopic.ACTION_REQUESTS)  # the reply waits on asker's queue
    assert harness.fire_deadlines(later()) == 1  # ...and so does the timeout
    messages = harness.receive("asker", RESULTS)
    assert len(messages) == 2  # both in one SQS batch
    delivery = harness.deliver("asker", RESULTS, messages)
    assert delivery.failed_ids == []
    harness.run_until_idle()
    assert len(answers) == 1 and answers[0].data in ({"success": True, "value": 42}, TIMEOUT)
    assert harness.dead_letters() == []


def test_the_same_reply_twice_in_one_batch_is_delivered_once(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    reply = forged_reply(the_request(harness))
    harness.put(reply, reply)
    harness.run_until_idle()
    harness.put(reply)  # and once more, later
    harness.run_until_idle()
    assert [a.id for a in answers] == [reply.id]
    assert harness.fire_deadlines(later()) == 1
    harness.run_until_idle()
    assert [a.id for a in answers] == [reply.id]
    assert harness.dead_letters("asker") == []


def test_two_different_replies_to_a_request_with_a_deadline_deliver_one(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    request = the_request(harness)
    harness.put(forged_reply(request, data={"success": True, "value": 1}))
    harness.put(forged_reply(request, data={"success": True, "value": 2}))
    harness.run_until_idle()
    assert [a.data["value"] for a in answers] == [1]
    assert harness.dead_letters("asker") == []


def test_two_different_replies_to_a_request_without_a_deadline_deliver_one(
    soorma_moto,
) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"}, timeout=None)
    request = the_request(harness)
    harness.put(forged_reply(request, data={"success": True, "value": 1}))
    harness.put(forged_reply(request, data={"success": True, "value": 2}))
    harness.run_until_idle()
    assert [a.data["value"] for a in answers] == [1]


def test_a_result_handler_failing_after_its_reply_won_still_gets_that_reply(
    soorma_moto,
) -> None:
    answers: list[EventEnvelope] = []
    harness = soorma_moto(asker_and_solver(answers, {"asker-fails": 1}))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.deliver("asker", FACTS)
    harness.deliver("solver", EventTopic.ACTION_REQUESTS)
    assert harness.deliver("asker", RESULTS).failed_ids  # the reply won, its handler failed
    assert harness.fire_deadlines(later()) == 1  # the timeout arrives meanwhile
    harness.run_until_idle()
    assert [a.data for a in answers] == [{"success": True, "value": 42}]
    assert harness.dead_letters() == []


def test_an_invalid_reply_does_not_consume_the_requests_one_outcome(soorma_moto) -> None:
    from pydantic import BaseModel

    from soorma_common import EventDefinition

    class Answer(BaseModel):
        success: bool
        value: int

    computed = EventDefinition(
        event_name="answer.computed", topic=RESULTS, description="", payload_schema=Answer
    )
    answers: list[EventEnvelope] = []
    harness = soorma_moto(asker_and_solver(answers, {"solver": "dead"}, consumed=(computed,)))
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    harness.put(forged_reply(the_request(harness), data={"value": "not a number"}))
    harness.run_until_idle()
    assert any("SchemaValidation" in r for r in dead_reasons(harness, "asker"))
    assert harness.fire_deadlines(later()) == 1
    harness.run_until_idle()
    assert [a.data for a in answers] == [TIMEOUT]


# ---- replies that answer nothing of ours ---------------------------------------------------


def test_a_reply_to_a_request_never_sent_is_dead_lettered_as_forged(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    harness.put(forged_reply(the_request(harness), causation_id="never-sent"))
    harness.run_until_idle()
    assert answers == []
    [reason] = dead_reasons(harness, "asker")
    assert reason.startswith("ForgedReplyError") and "never-sent" in reason


def test_a_reply_naming_another_agents_request_is_refused(soorma_moto) -> None:
    answers: list[EventEnvelope] = []
    agents = asker_and_solver(answers, {"solver": "dead"})
    other = Worker(name="other")

    @other.on_event("question.asked", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("answer.compute", event.data, "answer.computed")

    @other.on_result("answer.computed")
    def got(event: EventEnvelope, context: Any) -> None:
        answers.append(event)

    harness = soorma_moto([*agents, other])
    harness.send("question.asked", {"q": "?"}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    theirs = next(e for e in harness.published if e.reply_to == "other")
    harness.put(forged_reply(theirs, reply_to="asker"))  # other's request, sent to asker
    harness.run_until_idle()
    assert answers == []
    assert any("ForgedReplyError" in r for r in dead_reasons(harness, "asker"))


def test_a_reply_from_the_requester_itself_is_refused(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    harness.put(forged_reply(the_request(harness), source="soorma.asker"))
    harness.run_until_idle()
    assert answers == []
    assert any("requester itself" in r for r in dead_reasons(harness, "asker"))


@pytest.mark.parametrize(
    "forged",
    [{"tenant_id": "evil-corp"}, {"correlation_id": "someone-elses-workflow"}],
    ids=["another-tenant", "another-correlation-id"],
)
def test_a_reply_outside_its_requests_workflow_is_refused(
    soorma_moto, forged: dict[str, str]
) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    harness.put(forged_reply(the_request(harness), **forged))
    harness.run_until_idle()
    assert answers == []
    assert any("ForgedReplyError" in r for r in dead_reasons(harness, "asker"))


def test_a_reply_of_another_type_than_asked_is_refused(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    harness.put(forged_reply(the_request(harness), type="answer.other"))
    harness.run_until_idle()
    assert answers == []


def test_a_reply_of_another_type_than_asked_leaves_the_request_to_its_timeout(
    soorma_moto,
) -> None:
    harness, answers = asked(soorma_moto, {"solver": "dead"})
    harness.put(forged_reply(the_request(harness), type="answer.other"))
    harness.run_until_idle()
    assert answers == []
    assert harness.fire_deadlines(later()) == 1
    harness.run_until_idle()
    assert [a.data for a in answers] == [TIMEOUT]


# ---- what a handler may ask: timeouts, deadlines, reply types and topics -------------------


def in_a_handler(soorma_moto: Any, body: Any, *others: Any) -> tuple[Any, list[str], list[Any]]:
    """Run `body(context)` in `caller`'s handler of one fact; return the harness, the permanent
    errors `body` raised (their type and message) and what `caller`'s result handler got."""
    errors: list[str] = []
    results: list[EventEnvelope] = []
    caller = Worker(name="caller")

    @caller.on_event("work.wanted", topic=FACTS)
    def wanted(event: EventEnvelope, context: Any) -> None:
        try:
            body(context)
        except PermanentError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    @caller.on_result()
    def result(event: EventEnvelope, context: Any) -> None:
        results.append(event)

    harness = soorma_moto([caller, *others])
    harness.send("work.wanted", {}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    return harness, errors, results


def schedules(harness: Any) -> list[dict[str, Any]]:
    pages = harness.session.client("scheduler").get_paginator("list_schedules").paginate()
    return [schedule for page in pages for schedule in page["Schedules"]]


def pending_items(harness: Any) -> list[dict[str, Any]]:
    dynamodb = harness.session.client("dynamodb")
    table = harness.platform.tables["idempotency"]
    items = dynamodb.scan(TableName=table).get("Items", [])
    return [item for item in items if "#request#" in item["id"]["S"]]


@pytest.mark.parametrize(
    "timeout",
    [0, 0.0, -1, -1e-9, float("nan"), float("inf"), float("-inf"), 10**12, 1e308, "30"],
    ids=repr,
)
def test_a_timeout_outside_what_a_request_can_wait_is_a_permanent_error(
    soorma_moto, timeout: Any
) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {}, "answer.computed", timeout=timeout)

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("InvalidEnvelopeError: timeout must be more than 0 and at most")
    assert "1.5552e+06 seconds" in error  # names the limit: the pending request's lifetime
    assert schedules(harness) == [] and pending_items(harness) == []


def test_a_boolean_timeout_is_refused(soorma_moto) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {}, "answer.computed", timeout=True)

    harness, errors, _ = in_a_handler(soorma_moto, body)
    assert len(errors) == 1 and "timeout" in errors[0]
    assert schedules(harness) == []


def test_a_tiny_timeout_still_fires_once_and_never_in_the_past(soorma_moto) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {}, "answer.computed", timeout=0.001)

    harness, errors, results = in_a_handler(soorma_moto, body)
    assert errors == []
    [schedule] = schedules(harness)
    assert harness.fire_deadlines(later(timedelta(seconds=10))) == 1
    harness.run_until_idle()
    assert [r.data for r in results] == [TIMEOUT]
    assert harness.fire_deadlines(later(timedelta(days=1))) == 0
    assert schedule["Name"].startswith("soorma-timeout-")


def test_the_longest_timeout_does_not_outlive_its_pending_request(soorma_moto) -> None:
    """A timeout must find its pending request: the item's TTL must not come before the
    timeout arrives (Scheduler fires up to 59 s after the deadline, docs/deadlines.md; DynamoDB
    may delete an item any time after its TTL)."""
    from soorma.config import settings

    def body(context: Any) -> None:
        most = settings().idempotency_ttl_seconds
        context.bus.request("answer.compute", {}, "answer.computed", timeout=most)

    harness, errors, _ = in_a_handler(soorma_moto, body)
    assert errors == []
    [item] = pending_items(harness)
    deadline = datetime.strptime(item["deadline"]["S"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert int(item["expires_at"]["N"]) >= deadline.timestamp() + 60


@pytest.mark.parametrize(
    "deadline",
    [
        "tomorrow",
        "",
        "2026-12-03T07:30:00+00:00",
        "2026-12-03 07:30:00Z",
        "2026-12-03T07:30:00.5Z",
        "2026-12-03T25:30:00Z",
        "2026-12-03T07:30:00Z\n",
        "2026-12-03T07:30:00Z\x00",
        "2026-1-3T7:30:0Z",  # unpadded fields: strptime takes them, Scheduler's at() does not
        "2026-12- 3T07:30:00Z",
    ],
    ids=repr,
)
def test_a_hand_set_deadline_that_is_not_the_wire_format_is_refused(
    soorma_moto, deadline: str
) -> None:
    def body(context: Any) -> None:
        context.bus.publish(
            "action-requests",
            "answer.compute",
            {},
            response_event="answer.computed",
            reply_to="caller",
            deadline=deadline,
        )

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("InvalidEnvelopeError: ")
    assert schedules(harness) == [] and pending_items(harness) == []


def test_a_hand_set_deadline_past_the_pending_requests_lifetime_is_refused(
    soorma_moto,
) -> None:
    def body(context: Any) -> None:
        context.bus.publish(
            "action-requests",
            "answer.compute",
            {},
            response_event="answer.computed",
            reply_to="caller",
            deadline="2999-12-31T23:59:59Z",
        )

    harness, errors, _ = in_a_handler(soorma_moto, body)
    assert len(errors) == 1 and "1.5552e+06" in errors[0]
    assert schedules(harness) == []


def test_a_response_event_that_is_no_event_type_is_refused_before_anything_is_sent(
    soorma_moto,
) -> None:
    def body(context: Any) -> None:
        for bad in ("Not A Type!", "answer", "answer.computed\n", "a.\ud800"):
            try:
                context.bus.request("answer.compute", {}, bad, timeout=30)
            except PermanentError as exc:
                assert "response_event" in str(exc) or "responseevent" in str(exc), exc
                continue
            raise AssertionError(f"response_event {bad!r} accepted")

    harness, errors, _ = in_a_handler(soorma_moto, body)
    assert errors == []
    assert schedules(harness) == [] and pending_items(harness) == []
    assert [e for e in harness.published if e.type == "answer.compute"] == []


def test_a_response_topic_without_a_result_handler_is_refused(soorma_moto) -> None:
    def body(context: Any) -> None:
        context.bus.request(
            "answer.compute", {}, "answer.computed", response_topic=FACTS, timeout=30
        )

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("UnreachableReplyError: ") and "business-facts" in error
    assert schedules(harness) == []


def test_a_request_from_an_agent_without_any_result_handler_is_refused(soorma_moto) -> None:
    lonely = Worker(name="lonely")
    errors: list[str] = []

    @lonely.on_event("work.wanted", topic=FACTS)
    def wanted(event: EventEnvelope, context: Any) -> None:
        try:
            context.bus.request("answer.compute", {}, "answer.computed")
        except PermanentError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    _, solver = asker_and_solver([], {})
    harness = soorma_moto([lonely, solver])
    harness.send("work.wanted", {}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    replies = [e for e in harness.published if e.reply_to == "lonely" and e.topic == RESULTS]
    delivered = harness.delivered_details("lonely")
    assert not replies or any(d["id"] == replies[0].id for d in delivered), "reply dropped"
    assert len(errors) == 1 and errors[0].startswith("UnreachableReplyError")


def test_a_bad_hand_set_deadline_does_not_hold_back_the_rest_of_its_batch(soorma_moto) -> None:
    caller = bad_deadline_caller()
    harness = soorma_moto([caller])
    harness.send("work.wanted", {"bad": True}, topic=FACTS, tenant_id="acme")
    harness.send("work.wanted", {"bad": False}, topic=FACTS, tenant_id="acme")
    messages = harness.receive("caller", FACTS)
    assert len(messages) == 2
    harness.deliver("caller", FACTS, messages)  # one batch
    harness.run_until_idle()
    assert [e.type for e in harness.published if e.type == "work.done"] == ["work.done"]
    [dead] = harness.dead_letters("caller")  # the bad one only, as a permanent error
    assert dead.kind == "permanent-error" and "deadline" in (dead.reason or "")


# ---- fan-out, sizes, loops, hostile text ---------------------------------------------------


def test_a_fan_out_of_hundreds_of_timed_requests_gets_one_outcome_each(soorma_moto) -> None:
    count = 150

    def body(context: Any) -> None:
        for n in range(count):
            context.bus.request("answer.compute", {"n": n}, "answer.computed", timeout=60)

    _, solver = asker_and_solver([], {"solver": "dead"})
    harness, errors, results = in_a_handler(soorma_moto, body, solver)
    assert errors == []
    assert len(pending_items(harness)) == count
    assert len(schedules(harness)) == count
    fired = 0
    while (more := harness.fire_deadlines(later(timedelta(seconds=61)))) > 0:
        fired += more  # (one page of ListSchedules per call: see the pump test below)
    assert fired == count
    harness.run_until_idle()
    assert len(results) == count and all(r.data == TIMEOUT for r in results)
    assert len({r.causation_id for r in results}) == count
    assert harness.fire_deadlines(later(timedelta(days=1))) == 0
    assert harness.dead_letters("caller") == []


def test_a_due_deadline_behind_a_page_of_later_ones_fires(soorma_moto) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {"n": "soon"}, "answer.computed", timeout=60)
        for n in range(60):
            context.bus.request("answer.compute", {"n": n}, "answer.computed", timeout=3600)

    harness, errors, results = in_a_handler(soorma_moto, body)
    assert errors == [] and len(schedules(harness)) == 61
    assert harness.fire_deadlines(later(timedelta(seconds=61))) == 1
    harness.run_until_idle()
    assert [r.data for r in results] == [TIMEOUT]


def test_a_fan_out_over_one_records_400_kb_is_refused_before_anything_is_sent(
    soorma_moto,
) -> None:
    def body(context: Any) -> None:
        for n in range(2_000):  # ≈ 3 KB each as stored: the budget refuses the 130th or so
            context.bus.request("answer.compute", {"n": n, "pad": "p" * 2_000}, "answer.computed")

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("OutboxNotStorableError: ") and "400 KB" in error
    # the handler went on after the refusal: what it had buffered before (within one item) is
    # recorded and sent, the refused request and any after it never
    sent = sorted(e.data["n"] for e in harness.published if e.type == "answer.compute")
    assert sent == list(range(len(sent))) and 0 < len(sent) < 2_000
    assert len(pending_items(harness)) == len(sent) and schedules(harness) == []


def test_a_request_over_the_event_size_limit_is_refused_with_the_limit_named(
    soorma_moto,
) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {"blob": "b" * 300_000}, "answer.computed", timeout=9)

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("EventTooLargeError: ") and "262144" in error
    assert pending_items(harness) == [] and schedules(harness) == []


def test_a_failure_reply_with_a_huge_error_text_still_reaches_the_requester(
    soorma_moto,
) -> None:
    harness, answers = asked(soorma_moto, {"solver": "huge-error"})
    [answer] = answers
    assert answer.data["success"] is False
    assert answer.data["error"].startswith("the solver choked: xxx")
    assert harness.dead_letters("solver") == []


def test_a_huge_failure_reply_is_at_least_dead_lettered_and_timed_out(soorma_moto) -> None:
    harness, answers = asked(soorma_moto, {"solver": "huge-error"})
    if not answers:  # the defect above: then nothing is lost, the timeout answers
        [reason] = dead_reasons(harness, "solver")
        assert reason.startswith("EventTooLargeError") and "262144" in reason
        assert harness.fire_deadlines(later()) == 1
        harness.run_until_idle()
    assert len(answers) == 1 and answers[0].data["success"] is False


def test_replies_that_request_again_stop_at_the_hop_limit(soorma_moto, monkeypatch) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", "8")
    rounds: list[int | None] = []
    asker = Worker(name="asker")

    @asker.on_event("question.asked", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("answer.compute", {}, "answer.computed")

    @asker.on_result("answer.computed")
    def again(event: EventEnvelope, context: Any) -> None:  # a reply that asks again, forever
        rounds.append(event.hop_count)
        context.bus.request("answer.compute", {}, "answer.computed")

    _, solver = asker_and_solver([], {})
    harness = soorma_moto([asker, solver])
    harness.send("question.asked", {}, topic=FACTS, tenant_id="acme")
    harness.run_until_idle()
    assert rounds == [2, 4, 6, 8]
    [dead] = harness.dead_letters()
    assert dead.agent == "solver" and "SOORMA_MAX_HOPS" in (dead.reason or "")
    notices = [e for e in harness.published if e.type == "agent.loop_detected"]
    assert len(notices) == 1 and notices[0].data["hop_count"] == 9


def test_the_timeout_of_a_request_at_the_hop_limit_reaches_the_requester(
    soorma_moto, monkeypatch
) -> None:
    monkeypatch.setenv("SOORMA_MAX_HOPS", "3")
    answers: list[EventEnvelope] = []
    harness = soorma_moto(asker_and_solver(answers, {}))
    harness.put(  # a request the asker sends at hop 3: the solver may handle it
        EventEnvelope(
            source="soorma.upstream",
            type="question.asked",
            topic=FACTS,
            tenant_id="acme",
            hop_count=2,
        )
    )
    harness.run_until_idle()
    request = the_request(harness)
    assert request.hop_count == 3
    # the solver's reply (hop 4) is over the limit at the asker: refused as a loop...
    assert any("SOORMA_MAX_HOPS" in r for r in dead_reasons(harness, "asker"))
    assert harness.fire_deadlines(later()) == 1  # ...and the timeout (hop 4) too
    harness.run_until_idle()
    assert len(answers) == 1


@pytest.mark.parametrize(
    "reply_to", ["asker\x00", "asker\n", "ask\x7fer", "\ud800", "asker\ufffe"], ids=repr
)
def test_hostile_reply_to_on_a_raw_record_is_a_permanent_dead_letter(
    soorma_moto, reply_to: str
) -> None:
    import json

    harness, answers = asked(soorma_moto, {"solver": "dead"})
    request = the_request(harness)
    wire = forged_reply(request).to_wire()
    wire["replyto"] = reply_to
    body = {"version": "0", "id": "e-1", "detail-type": wire["type"], "source": wire["source"]}
    body.update({"account": "123456789012", "time": wire["time"], "region": "us-east-1"})
    body.update({"resources": [], "detail": wire})
    harness.send_raw("asker", RESULTS, json.dumps(body))  # ASCII JSON: \\u escapes
    harness.run_until_idle()
    assert answers == []
    [dead] = harness.dead_letters("asker")
    assert dead.kind == "permanent-error"
    assert "InvalidEnvelopeError" in (dead.reason or "") and "replyto" in (dead.reason or "")
    assert harness.fire_deadlines(later()) == 1  # the request still gets its one outcome
    harness.run_until_idle()
    assert [a.data for a in answers] == [TIMEOUT]


@pytest.mark.parametrize("reply_to", ["caller\x00", "\ud800", "caller\x85", ""], ids=repr)
def test_hostile_reply_to_on_a_request_is_refused_at_publish(soorma_moto, reply_to: str) -> None:
    def body(context: Any) -> None:
        context.bus.request("answer.compute", {}, "answer.computed", reply_to=reply_to)

    harness, errors, _ = in_a_handler(soorma_moto, body)
    [error] = errors
    assert error.startswith("InvalidEnvelopeError: ") and "reply" in error
    assert pending_items(harness) == []


# ---- outside handlers: EventPublisher ------------------------------------------------------


def script_request(harness: Any, **options: Any) -> Any:
    from soorma.publishing import EventPublisher

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


@pytest.mark.parametrize("timeout", [0, -3, float("nan"), float("inf"), 10**8], ids=repr)
def test_a_scripts_timeout_out_of_range_puts_nothing(soorma_moto, timeout: float) -> None:
    harness = soorma_moto(asker_and_solver([], {}))
    with pytest.raises(PermanentError, match="timeout must be more than 0 and at most"):
        script_request(harness, timeout=timeout)
    assert pending_items(harness) == [] and schedules(harness) == []
    assert harness.published == []


@pytest.mark.parametrize("deadline", ["tomorrow", "2999-12-31T23:59:59Z"], ids=repr)
def test_a_scripts_hand_set_deadline_is_checked_like_a_handlers(soorma_moto, deadline: str) -> None:
    harness = soorma_moto(asker_and_solver([], {}))
    with pytest.raises(PermanentError, match=r"deadline|timeout") as raised:
        script_request(harness, deadline=deadline)
    assert "time:" not in str(raised.value)
    assert pending_items(harness) == [] and schedules(harness) == []
