"""The Lambda batch loop (`LambdaRuntime.handle_batch`) at its edges, on moto, with real payloads.

Every batch is an SQS event whose records' bodies are EventBridge events whose `detail` is the
envelope: received from a moto queue after a real `PutEvents`, or, where a test needs a shape
EventBridge would not make (10,000 records, a poison body, a duplicated message id), copied from
such a received message by one builder (`copy_message`). The loop is driven at the limits: empty
and 10,000-record batches, poison records of every kind, duplicates in one batch, one transient
or permanent failure among ten, outgoing events over 10 entries and 256 KB per PutEvents, an
event over 256 KB, PutEvents reporting failed entries, an invocation out of time, a high receive
count, and an agent consuming its own output. Each test checks what can go wrong: the exact
`batchItemFailures`, what reached the bus (and how often), the dead letters and the claims.

Defects found are kept as strict xfails naming the fix.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from soorma import Agent
from soorma.config import settings as soorma_settings
from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES
from soorma.runtime import LambdaRuntime, RecordOutcome
from soorma.runtime.claims import claim_key
from soorma.runtime.loops import LOOP_NOTICE_TYPE
from soorma_common import EventEnvelope, EventTopic
from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.errors import DomainError, TransientError
from soorma_dev.harness import (
    LambdaContextStub,
    MotoHarness,
    fail_put_events_entries,
    record_put_events,
)
from soorma_dev.sqs_events import lambda_event, queue_region
from soorma_dev.testing import DeadLetter
from tests.integration.test_claims_at_the_edges import claim_id, claim_item, stored_details

FACTS = EventTopic.BUSINESS_FACTS
AGENT = "edge"
#: The source of the envelopes the tests make themselves.
TEST_SOURCE = "soorma.tests"
HANDLED_TYPE = "order.placed"
PUBLISHED_TYPE = "order.noted"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call; PutEvents retries without sleeping."""
    monkeypatch.setenv("SOORMA_PUBLISH_BACKOFF_SECONDS", "0")
    with mock_aws():
        yield


# ---- helpers ------------------------------------------------------------------------------------


class Edge:
    """An agent handling `order.placed` on business-facts, served on moto by a `MotoHarness`.

    Per handled event it records the envelope id in `runs` and asks `behaviour(event, context)`
    what to do; the default publishes one `order.noted` naming the order. Its runtime reports
    every record's outcome to `outcomes`.
    """

    def __init__(
        self,
        behaviour: Callable[[EventEnvelope, Any], None] | None = None,
        *,
        conf_changes: dict[str, Any] | None = None,
    ) -> None:
        self.runs: list[str] = []
        self.outcomes: list[RecordOutcome] = []
        self.behaviour = behaviour or note_order
        self.agent = Agent(AGENT)

        @self.agent.on_event(HANDLED_TYPE, topic=FACTS)
        def handle(event: EventEnvelope, context: Any) -> None:
            self.runs.append(event.id)
            self.behaviour(event, context)

        self.harness = MotoHarness([self.agent])
        conf = soorma_settings()
        if conf_changes:
            conf = replace(conf, **conf_changes)
        self.agent.use_runtime(
            LambdaRuntime(self.agent, on_outcome=self.outcomes.append, conf=conf)
        )
        _, self.arn, self.dlq_url = self.harness.queue(AGENT, FACTS)

    def send(self, count: int, **data: Any) -> list[EventEnvelope]:
        """Put `count` orders on the bus (real PutEvents); return their envelopes."""
        return [
            self.harness.send(HANDLED_TYPE, {"n": n, **data}, topic=FACTS) for n in range(count)
        ]

    def received(self, count: int) -> list[dict[str, Any]]:
        """Receive exactly `count` messages from the agent's queue (polling, with a deadline)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while len(messages) < count and time.monotonic() < deadline:
            messages += self.harness.receive(
                AGENT, FACTS, max_messages=min(10, count - len(messages))
            )
        assert len(messages) == count, (
            f"expected {count} messages on the queue, got {len(messages)}"
        )
        return messages

    def invoke(self, messages: list[dict[str, Any]], context: Any = None) -> list[str]:
        """Call `lambda_handler` with these messages as Lambda's SQS mapping would; return the
        `batchItemFailures` ids, in order."""
        event = lambda_event(messages, self.arn, queue_region(self.arn))
        response = self.agent.lambda_handler(event, context or LambdaContextStub(f"fn-{AGENT}"))
        assert set(response) == {"batchItemFailures"}
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]

    def settle(self, messages: list[dict[str, Any]], failures: list[str]) -> None:
        """What Lambda's SQS mapping does after an invocation: delete the records that did not
        fail, make the failed ones visible again (at once, as if their visibility timeout had
        passed). Only for messages really received (their receipt handles)."""
        url, _, _ = self.harness.queue(AGENT, FACTS)
        for message in messages:
            if message["MessageId"] in failures:
                self.harness.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.harness.sqs.delete_message(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                )

    def outcome_of(self) -> dict[str, list[str]]:
        """Every outcome reported per message id, in order."""
        seen: dict[str, list[str]] = {}
        for outcome in self.outcomes:
            seen.setdefault(outcome.message_id, []).append(outcome.outcome)
        return seen

    def dead_letters(self) -> list[DeadLetter]:
        """The messages now in the agent's DLQ."""
        return self.harness.dead_letters(AGENT)

    def dlq_depth(self) -> int:
        """Messages in the agent's DLQ (visible or not)."""
        return self.harness.dead_letter_queues().depth(self.dlq_url)

    def published_by_agent(self) -> Counter[str]:
        """How many times each event the agent published reached the bus, by id."""
        return Counter(e.id for e in self.harness.published if e.source == f"soorma.{AGENT}")

    def completed_claims(self) -> int:
        """How many completed claims the idempotency table holds (every page of the scan)."""
        pages = (
            self.harness.session.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.harness.platform.tables["idempotency"],
                FilterExpression="#status = :completed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":completed": {"S": "COMPLETED"}},
                Select="COUNT",
            )
        )
        return sum(page["Count"] for page in pages)

    def claim(self, envelope_id: str, source: str = TEST_SOURCE) -> dict[str, Any] | None:
        """The agent's claim item for an envelope (None: no claim)."""
        key = claim_key(AGENT, source, envelope_id)
        return claim_item(self.harness, claim_id(self.harness, key))


def note_order(event: EventEnvelope, context: Any) -> None:
    """The default behaviour: one `order.noted` per order."""
    context.bus.announce(PUBLISHED_TYPE, {"order": event.data.get("n")})


def copy_message(
    message: dict[str, Any],
    *,
    body: str | None = None,
    message_id: str | None = None,
    receive_count: int | None = None,
) -> dict[str, Any]:
    """A received SQS message with its body, message id or receive count replaced: the one
    builder of the records EventBridge and SQS would not hand us as they are."""
    copied = dict(message, Attributes=dict(message.get("Attributes", {})))
    copied.pop("MD5OfBody", None)
    if body is not None:
        copied["Body"] = body
    if message_id is not None:
        copied["MessageId"] = message_id
    if receive_count is not None:
        copied["Attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return copied


def with_detail(body: str, **changes: Any) -> str:
    """An EventBridge event (a received body) whose envelope has these wire attributes changed
    (`None` removes one)."""
    event = json.loads(body)
    detail = {**event["detail"], **changes}
    event["detail"] = {k: v for k, v in detail.items() if v is not None}
    if "type" in changes and changes["type"] is not None:
        event["detail-type"] = changes["type"]
    return json.dumps(event)


def fresh_envelope_body(template: str, n: int) -> tuple[str, str]:
    """A received body re-made around a new envelope (new id, `data.n` = n); (body, id)."""
    envelope = EventEnvelope(source=TEST_SOURCE, type=HANDLED_TYPE, topic=FACTS, data={"n": n})
    event = json.loads(template)
    event["detail"] = envelope.to_wire()
    return json.dumps(event), envelope.id


def error_type(letter: DeadLetter) -> str:
    """The error type a runtime dead letter was sent with."""
    assert letter.kind == "permanent-error", letter
    return (letter.reason or "").split(":", 1)[0]


def request_bytes(entries: list[dict[str, Any]]) -> int:
    """A PutEvents request's size as EventBridge counts it (Source + DetailType + Detail)."""
    return sum(len((e["Source"] + e["DetailType"] + e["Detail"]).encode()) for e in entries)


def agent_entries(calls: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The entries the agent put (not the test's own sends), over every call."""
    return [e for call in calls for e in call if e["Source"] == f"soorma.{AGENT}"]


# ---- empty and full batches ---------------------------------------------------------------------


def test_an_empty_records_list_reports_nothing_and_touches_nothing() -> None:
    edge = Edge()
    with record_put_events() as put:
        failures = edge.invoke([])

    assert failures == []
    assert put.count == 0
    assert edge.outcomes == [] and edge.runs == []
    assert edge.harness.idempotency_records() == []


def test_a_batch_of_ten_real_records_is_handled_once_each_with_one_flush() -> None:
    edge = Edge()
    orders = edge.send(10)
    with record_put_events() as put:
        delivery = edge.harness.deliver(AGENT, FACTS)

    assert len(delivery.event["Records"]) == 10
    assert delivery.failed_ids == []
    assert sorted(edge.runs) == sorted(o.id for o in orders)
    assert [len(call) for call in put.calls] == [10]  # the ten records' events, one request
    published = edge.published_by_agent()
    assert len(published) == 10 and set(published.values()) == {1}
    for order in orders:
        item = edge.claim(order.id)
        assert item is not None and item["status"]["S"] == "COMPLETED"
        [stored] = stored_details(item)
        assert stored["causationid"] == order.id and stored["id"] in published
    assert edge.harness.queue_depth(AGENT, FACTS) == 0


@pytest.mark.parametrize(
    "claims",
    [False, pytest.param(True, marks=pytest.mark.slow, id="claims-on-moto")],
    ids=lambda claims: "claims-on-moto" if claims else "claims-off",
)
def test_ten_thousand_records_in_one_invocation_each_get_one_outcome(claims: bool) -> None:
    """SQS's largest batch for a standard queue. Every 1000th record fails (transient), every
    100th publishes; the rest do nothing. With claims on moto (two DynamoDB writes a record) it
    takes minutes: slow."""

    def sparse(event: EventEnvelope, context: Any) -> None:
        n = event.data["n"]
        if n % 1000 == 999:
            raise TransientError(f"record {n} times out")
        if n % 100 == 0:
            note_order(event, context)

    edge = Edge(sparse, conf_changes=None if claims else {"idempotency": False})
    edge.send(1)
    [template] = edge.received(1)
    messages = []
    for n in range(10_000):
        body, _ = fresh_envelope_body(template["Body"], n)
        messages.append(copy_message(template, body=body, message_id=f"msg-{n:05d}"))
    with record_put_events() as put:
        failures = edge.invoke(messages)

    assert failures == [f"msg-{n:05d}" for n in range(999, 10_000, 1000)]
    outcomes = edge.outcome_of()
    assert len(outcomes) == 10_000 and all(len(seen) == 1 for seen in outcomes.values())
    assert Counter(seen[0] for seen in outcomes.values()) == {"handled": 9990, "failed": 10}
    assert [len(call) for call in put.calls] == [10] * 10  # 100 events, 10 per request
    assert sorted(json.loads(e["Detail"])["data"]["order"] for e in agent_entries(put.calls)) == (
        list(range(0, 10_000, 100))
    )
    if claims:
        assert edge.completed_claims() == 9990  # failed runs release theirs


# ---- poison records -----------------------------------------------------------------------------


POISON = {
    "not-json": (lambda body: "{this is not json", "MalformedRecordError", "not JSON"),
    "json-but-a-list": (lambda body: "[1, 2, 3]", "MalformedRecordError", "JSON list"),
    "not-an-eventbridge-event": (
        lambda body: json.dumps({"Message": json.loads(body)["detail"]}),
        "MalformedRecordError",
        "missing source, detail-type, detail",
    ),
    "detail-not-an-envelope": (
        lambda body: json.dumps({**json.loads(body), "detail": "just text"}),
        "InvalidEnvelopeError",
        "must be a JSON object",
    ),
    "envelope-missing-id-and-topic": (
        lambda body: with_detail(body, id=None, topic=None),
        "InvalidEnvelopeError",
        "missing required attribute(s) id, topic",
    ),
    "unknown-event-type": (
        lambda body: with_detail(body, type="order.vanished"),
        "NoHandlerError",
        "'order.vanished'",
    ),
    "topic-not-subscribed": (
        lambda body: with_detail(body, topic=EventTopic.TASK_EVENTS.value),
        "NoHandlerError",
        "task-events",
    ),
    "forged-source": (
        lambda body: with_detail(body, source="soorma.intruder"),
        "ForgedSourceError",
        "soorma.intruder",
    ),
}


@pytest.mark.parametrize("kind", list(POISON))
def test_one_poison_record_among_ten_is_dead_lettered_at_once_and_its_batch_mates_succeed(
    kind: str,
) -> None:
    make_body, expected_type, expected_words = POISON[kind]
    edge = Edge()
    orders = edge.send(10)
    messages = edge.received(10)
    victim = messages[4]
    victim_id = json.loads(victim["Body"])["detail"]["id"]
    messages[4] = copy_message(victim, body=make_body(victim["Body"]))
    with record_put_events() as put:
        failures = edge.invoke(messages)

    assert failures == []  # permanent: not retried
    good = [o.id for o in orders if o.id != victim_id]
    assert sorted(edge.runs) == sorted(good)
    assert edge.outcome_of()[victim["MessageId"]] == ["dead-lettered"]
    [letter] = edge.dead_letters()
    assert error_type(letter) == expected_type
    assert expected_words in (letter.reason or "")
    assert letter.body == messages[4]["Body"]
    assert len(agent_entries(put.calls)) == 9
    assert sorted(edge.published_by_agent().values()) == [1] * 9
    assert edge.claim(victim_id) is None


def test_a_body_nested_past_the_recursion_limit_is_dead_lettered_at_once() -> None:
    edge = Edge()
    edge.send(2)
    good, poison = edge.received(2)
    deep = with_detail(poison["Body"], data={"n": 1, "tree": "@"})
    deep = deep.replace('"@"', "[" * 5000 + "]" * 5000)
    messages = [good, copy_message(poison, body=deep)]
    failures = edge.invoke(messages)

    assert failures == []
    assert edge.outcome_of()[poison["MessageId"]] == ["dead-lettered"]
    [letter] = edge.dead_letters()
    assert error_type(letter) == "MalformedRecordError"


def test_a_body_whose_reason_holds_a_lone_surrogate_is_still_dead_lettered() -> None:
    edge = Edge()
    edge.send(1)
    [message] = edge.received(1)
    failures = edge.invoke([copy_message(message, body='{"\\ud800": 1}')])

    assert failures == []
    assert edge.outcome_of()[message["MessageId"]] == ["dead-lettered"]
    [letter] = edge.dead_letters()
    assert error_type(letter) == "MalformedRecordError"


# ---- duplicates in one batch --------------------------------------------------------------------


def test_the_same_message_id_twice_in_one_batch_runs_the_handler_once() -> None:
    edge = Edge()
    edge.send(3)
    first, second, third = edge.received(3)
    batch = [first, second, copy_message(second), third]
    with record_put_events() as put:
        failures = edge.invoke(batch)

    assert failures == []
    assert Counter(edge.runs) == Counter(
        json.loads(m["Body"])["detail"]["id"] for m in (first, second, third)
    )
    assert set(Counter(edge.runs).values()) == {1}
    assert edge.outcome_of()[second["MessageId"]] == ["handled", "handled"]
    # The copy re-sends the stored events of the first (the same ids, the very bytes) in the
    # same flush: each event is put once for both records, never with other bytes.
    details: dict[str, set[str]] = {}
    for entry in agent_entries(put.calls):
        details.setdefault(json.loads(entry["Detail"])["id"], set()).add(entry["Detail"])
    assert len(details) == 3 and all(len(d) == 1 for d in details.values())
    put_counts = Counter(json.loads(e["Detail"])["id"] for e in agent_entries(put.calls))
    assert sorted(put_counts.values()) == [1, 1, 1]
    assert len(edge.harness.idempotency_records()) == 3 == edge.completed_claims()


def test_the_same_envelope_in_two_records_of_a_batch_of_ten_runs_the_handler_once() -> None:
    edge = Edge()
    orders = edge.send(9)
    edge.harness.put(orders[3])  # EventBridge delivers at least once: two records, one envelope
    messages = edge.received(10)
    assert len({m["MessageId"] for m in messages}) == 10
    with record_put_events() as put:
        failures = edge.invoke(messages)

    assert failures == []
    assert sorted(edge.runs) == sorted(o.id for o in orders)  # orders[3] once
    put_counts = Counter(json.loads(e["Detail"])["id"] for e in agent_entries(put.calls))
    assert sorted(put_counts.values()) == [1] * 9  # its events put once for both records
    item = edge.claim(orders[3].id)
    assert item is not None and item["status"]["S"] == "COMPLETED"
    published = edge.published_by_agent()
    assert len(published) == 9


# ---- failures among ten -------------------------------------------------------------------------


def test_one_transient_failure_among_ten_fails_only_that_record_and_the_others_publish_once() -> (
    None
):
    flaky: dict[str, int] = {}

    def fail_order_6_once(event: EventEnvelope, context: Any) -> None:
        note_order(event, context)
        if event.data["n"] == 6 and not flaky:
            flaky[event.id] = 1
            raise TransientError("the model timed out")

    edge = Edge(fail_order_6_once)
    orders = edge.send(10)
    messages = edge.received(10)
    by_order = {json.loads(m["Body"])["detail"]["data"]["n"]: m["MessageId"] for m in messages}
    with record_put_events() as put:
        failures = edge.invoke(messages)

    assert failures == [by_order[6]]
    assert len(agent_entries(put.calls)) == 9
    assert edge.claim(orders[6].id) is None  # released: the retry runs it again
    first = edge.published_by_agent()
    assert len(first) == 9 and set(first.values()) == {1}

    edge.settle(messages, failures)
    edge.harness.run_until_idle()  # only the failed record comes back
    assert Counter(edge.runs)[orders[6].id] == 2
    everything = edge.published_by_agent()
    assert len(everything) == 10 and set(everything.values()) == {1}


def test_a_permanent_handler_error_is_dead_lettered_at_once_and_never_retried() -> None:
    def refuse_order_2(event: EventEnvelope, context: Any) -> None:
        note_order(event, context)
        if event.data["n"] == 2:
            raise DomainError("order 2 is for a closed account")

    edge = Edge(refuse_order_2)
    orders = edge.send(10)
    delivery = edge.harness.deliver(AGENT, FACTS)
    edge.harness.run_until_idle()

    assert delivery.failed_ids == []
    assert Counter(edge.runs)[orders[2].id] == 1  # once: not retried
    [letter] = edge.dead_letters()
    assert error_type(letter) == "DomainError" and "closed account" in (letter.reason or "")
    assert json.loads(letter.body)["detail"]["id"] == orders[2].id
    assert edge.claim(orders[2].id) is None  # released: a redrive after the fix runs it again
    published = edge.published_by_agent()
    assert len(published) == 9 and set(published.values()) == {1}
    assert edge.harness.queue_depth(AGENT, FACTS) == 0


def test_a_handler_failing_every_time_goes_to_the_dlq_after_max_receives_not_forever() -> None:
    def always_fail(event: EventEnvelope, context: Any) -> None:
        raise RuntimeError("the dependency is down")

    edge = Edge(always_fail)
    [order] = edge.send(1)
    edge.harness.run_until_idle()

    assert edge.runs == [order.id] * MAX_RECEIVE_COUNT
    assert edge.harness.queue_depth(AGENT, FACTS) == 0
    [letter] = edge.dead_letters()
    assert letter.kind == "redrive-after-max-receives"
    assert edge.claim(order.id) is None
    assert edge.published_by_agent() == Counter()


@pytest.mark.parametrize("receive_count", [MAX_RECEIVE_COUNT, 1_000_000])
@pytest.mark.parametrize("handler_fails", [False, True])
def test_a_record_with_a_high_receive_count_is_handled_or_reported_as_any_other(
    receive_count: int, handler_fails: bool
) -> None:
    """The receive count is SQS's business (its redrive policy): the runtime neither drops a
    record for it nor dead-letters it itself."""

    def maybe_fail(event: EventEnvelope, context: Any) -> None:
        note_order(event, context)
        if handler_fails and event.data["n"] == 0:
            raise RuntimeError("still failing")

    edge = Edge(maybe_fail)
    edge.send(2)
    worn, fresh = sorted(
        edge.received(2), key=lambda m: json.loads(m["Body"])["detail"]["data"]["n"]
    )
    worn = copy_message(worn, receive_count=receive_count)
    failures = edge.invoke([worn, fresh])

    assert failures == ([worn["MessageId"]] if handler_fails else [])
    assert len(edge.runs) == 2
    assert edge.dlq_depth() == 0
    assert len(edge.published_by_agent()) == (1 if handler_fails else 2)


# ---- PutEvents limits ---------------------------------------------------------------------------


def test_thirty_events_over_256_kb_from_a_batch_are_split_by_count_and_bytes_and_all_arrive() -> (
    None
):
    def three_big(event: EventEnvelope, context: Any) -> None:
        for k in range(3):
            context.bus.announce(
                PUBLISHED_TYPE, {"order": event.data["n"], "k": k, "pad": "x" * 30_000}
            )

    edge = Edge(three_big)
    edge.send(10)
    with record_put_events() as put:
        failures = edge.invoke(edge.received(10))

    assert failures == []
    calls = [call for call in put.calls if agent_entries([call])]
    assert sum(len(call) for call in calls) == 30
    assert request_bytes([e for call in calls for e in call]) > MAX_PUT_EVENTS_REQUEST_BYTES
    assert all(len(call) <= 10 for call in calls)
    assert all(request_bytes(call) <= MAX_PUT_EVENTS_REQUEST_BYTES for call in calls)
    assert len(calls) == 4  # 8 events of ~30 KB fit 256 KB: 8 + 8 + 8 + 6
    published = edge.published_by_agent()
    assert len(published) == 30 and set(published.values()) == {1}


@pytest.mark.parametrize(
    ("count", "pad", "requests"),
    [(12, 23_000, [10, 2]), (4, 70_000, [3, 1])],
    ids=["12-events-276-kb-cut-by-count", "4-events-280-kb-cut-by-bytes"],
)
def test_one_handler_publishing_over_256_kb_in_total_is_split_and_nothing_is_lost(
    count: int, pad: int, requests: list[int]
) -> None:
    """One handler cannot be cut by bytes and have more than 10 events: its stored outbox caps
    at about 299 KB of `Detail`, and 11 events over 29 KB each pass it. So each limit alone."""

    def many_large(event: EventEnvelope, context: Any) -> None:
        for k in range(count):
            context.bus.announce(PUBLISHED_TYPE, {"k": k, "pad": "y" * pad})

    edge = Edge(many_large)
    [order] = edge.send(1)
    with record_put_events() as put:
        failures = edge.invoke(edge.received(1))

    assert failures == []
    calls = [call for call in put.calls if agent_entries([call])]
    assert request_bytes([e for call in calls for e in call]) > MAX_PUT_EVENTS_REQUEST_BYTES
    assert [len(call) for call in calls] == requests
    assert all(request_bytes(call) <= MAX_PUT_EVENTS_REQUEST_BYTES for call in calls)
    published = edge.published_by_agent()
    assert len(published) == count and set(published.values()) == {1}
    item = edge.claim(order.id)
    assert item is not None
    assert sorted(d["data"]["k"] for d in stored_details(item)) == list(range(count))


def test_one_event_over_256_kb_is_a_permanent_error_naming_the_limit() -> None:
    def one_huge(event: EventEnvelope, context: Any) -> None:
        note_order(event, context)
        if event.data["n"] == 1:
            context.bus.announce(PUBLISHED_TYPE, {"pad": "z" * (300 * 1024)})

    edge = Edge(one_huge)
    orders = edge.send(3)
    with record_put_events() as put:
        failures = edge.invoke(edge.received(3))

    assert failures == []
    [letter] = edge.dead_letters()
    assert error_type(letter) == "EventTooLargeError"
    reason = letter.reason or ""
    assert f"{256 * 1024}-byte limit" in reason and "SOORMA_MAX_EVENT_BYTES" in reason
    assert PUBLISHED_TYPE in reason
    assert json.loads(letter.body)["detail"]["id"] == orders[1].id
    # none of the refused record's events, not even the small one it published first
    causes = {json.loads(e["Detail"])["causationid"] for e in agent_entries(put.calls)}
    assert causes == {orders[0].id, orders[2].id}
    assert edge.claim(orders[1].id) is None


def test_put_events_failing_one_record_s_entries_fails_only_that_record_then_reflushes() -> None:
    def two_events(event: EventEnvelope, context: Any) -> None:
        note_order(event, context)
        note_order(event, context)

    edge = Edge(two_events)
    orders = edge.send(10)
    messages = edge.received(10)
    unlucky = orders[7].id
    by_envelope = {json.loads(m["Body"])["detail"]["id"]: m["MessageId"] for m in messages}

    def entries_of_unlucky(call: int, index: int, entry: dict[str, Any]) -> bool:
        return json.loads(entry["Detail"]).get("causationid") == unlucky

    with fail_put_events_entries(entries_of_unlucky) as put:
        failures = edge.invoke(messages)

    assert failures == [by_envelope[unlucky]]
    assert edge.outcome_of()[by_envelope[unlucky]] == ["failed"]
    reason = next(o.reason for o in edge.outcomes if o.message_id == by_envelope[unlucky])
    assert reason is not None and "ThrottlingException" in reason
    first = edge.published_by_agent()
    assert len(first) == 18 and set(first.values()) == {1}  # every other record's, once
    # two requests of 10 for the batch's 20 events, then three retries of the unlucky two alone
    assert sorted(len(call) for call in put.calls) == [2, 2, 2, 10, 10]
    retried = [e for call in put.calls if len(call) == 2 for e in call]
    assert {json.loads(e["Detail"])["causationid"] for e in retried} == {unlucky}

    edge.settle(messages, failures)
    edge.harness.run_until_idle()  # the failed record comes back: its stored events are put
    assert Counter(edge.runs) == Counter(o.id for o in orders)  # no handler ran twice
    everything = edge.published_by_agent()
    assert len(everything) == 20 and set(everything.values()) == {1}


# ---- out of time --------------------------------------------------------------------------------


class LambdaTimeout(BaseException):
    """Lambda ending an invocation at its timeout: nothing in the runtime may catch it."""


class VirtualClockContext(LambdaContextStub):
    """A Lambda context whose remaining time is a budget the handlers spend (`spend`), not the
    wall clock; spending past it ends the invocation (`LambdaTimeout`)."""

    def __init__(self, function_name: str, budget_ms: int) -> None:
        super().__init__(function_name, timeout_ms=budget_ms)
        self.spent_ms = 0

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms - self.spent_ms

    def spend(self, ms: int) -> None:
        """Run for `ms`; end the invocation when that takes it past its timeout."""
        self.spent_ms += ms
        if self.spent_ms >= self._timeout_ms:
            raise LambdaTimeout(f"Task timed out after {self._timeout_ms} ms")


def slow_edge(
    clock: list[VirtualClockContext], ms: Callable[[int], int] = lambda run: 1_000
) -> Edge:
    """An agent whose handler takes `ms(n)` (virtual) milliseconds for its n-th run (from 0;
    one second each by default) on the current clock."""
    runs = [0]

    def slow(event: EventEnvelope, context: Any) -> None:
        runs[0] += 1
        clock[0].spend(ms(runs[0] - 1))
        note_order(event, context)

    return Edge(slow)


def test_an_invocation_ended_by_its_timeout_loses_no_record_and_reruns_no_handled_one() -> None:
    clock = [VirtualClockContext(f"fn-{AGENT}", budget_ms=3_500)]
    # the third record is far slower than the two before: the batch starts it, Lambda ends it
    edge = slow_edge(clock, lambda run: 10_000 if run == 2 else 500)
    orders = edge.send(10)
    messages = edge.received(10)
    with pytest.raises(LambdaTimeout), record_put_events() as put:
        edge.invoke(messages, clock[0])
    assert agent_entries(put.calls) == []  # the flush never came
    finished = edge.runs[:2]
    assert all(edge.claim(i) is not None for i in finished)  # their outcomes are kept

    # Lambda returns every record of a timed-out invocation to the queue: all come back.
    clock[0] = VirtualClockContext(f"fn-{AGENT}", budget_ms=60_000)
    failures = edge.invoke(messages, clock[0])

    assert failures == []
    ran = Counter(edge.runs)
    assert all(ran[i] == 1 for i in finished)  # their stored events were re-flushed
    assert sorted(ran) == sorted(o.id for o in orders)
    published = edge.published_by_agent()
    assert len(published) == 10 and set(published.values()) == {1}


def test_records_not_started_for_lack_of_time_are_reported_failed_and_the_rest_flushed() -> None:
    clock = [VirtualClockContext(f"fn-{AGENT}", budget_ms=3_500)]
    edge = slow_edge(clock)
    edge.send(10)
    messages = edge.received(10)
    try:
        failures = edge.invoke(messages, clock[0])
    except LambdaTimeout:
        pytest.fail("the invocation ran out of time: the runtime kept starting records")

    started = set(edge.runs)
    not_started = [
        m["MessageId"] for m in messages if json.loads(m["Body"])["detail"]["id"] not in started
    ]
    assert failures == not_started and not_started
    published = edge.published_by_agent()
    assert len(published) == len(started) and set(published.values()) == {1}


# ---- loops --------------------------------------------------------------------------------------


def test_an_agent_consuming_its_own_output_type_stops_at_the_hop_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    max_hops = 4
    monkeypatch.setenv("SOORMA_MAX_HOPS", str(max_hops))

    def echo(event: EventEnvelope, context: Any) -> None:
        context.bus.announce(HANDLED_TYPE, {"n": (event.hop_count or 0) + 1})

    edge = Edge(echo)  # `order.placed` is an exact type: its rule takes the agent's own events
    [origin] = edge.send(1)
    edge.harness.run_until_idle(max_rounds=50)

    assert len(edge.runs) == max_hops + 1  # hop 0 (sent from outside) to the limit
    assert edge.harness.queue_depth(AGENT, FACTS) == 0
    [letter] = edge.dead_letters()
    assert error_type(letter) == "LoopDetectedError"
    assert f"hop count {max_hops + 1}" in (letter.reason or "")
    assert f"limit of {max_hops}" in (letter.reason or "")
    notices = [e for e in edge.harness.published if e.type == LOOP_NOTICE_TYPE]
    [notice] = notices
    assert notice.topic is EventTopic.SYSTEM_EVENTS
    assert notice.correlation_id == origin.correlation_id
    assert notice.data["hop_count"] == max_hops + 1
    assert notice.hop_count is None


# ---- property: any mix of good and poison records ------------------------------------------------


BAD_BODIES = {
    "not-json": lambda body, text: "{" + text,
    "any-json-but-an-object": lambda body, text: json.dumps([text, 1, None]),
    "not-an-eventbridge-event": lambda body, text: json.dumps({"text": text}),
    "detail-not-an-envelope": lambda body, text: json.dumps({**json.loads(body), "detail": text}),
    "envelope-missing-fields": lambda body, text: with_detail(body, specversion=None, source=None),
    "unknown-event-type": lambda body, text: with_detail(body, type="order.forgotten"),
    "topic-not-subscribed": lambda body, text: with_detail(body, topic="plan-events"),
    "forged-source": lambda body, text: with_detail(body, source="soorma.someone-else"),
}

record_kinds = st.lists(
    st.one_of(
        st.just("good"), st.tuples(st.sampled_from(sorted(BAD_BODIES)), st.text(max_size=20))
    ),
    max_size=10,
)


def test_any_mix_of_good_and_poison_records_fails_none_and_handles_each_good_one_once() -> None:
    """Property: for any batch of good records and permanent poison (in any order), the
    failures are a subset of the batch's message ids (here: empty, every poison being
    permanent), each record gets one outcome, each good envelope runs once and publishes once,
    each poison record is dead-lettered once."""
    edge = Edge()
    edge.send(1)
    [template] = edge.received(1)
    serial = iter(range(1_000_000))

    @settings(max_examples=25)
    @given(kinds=record_kinds)
    def check(kinds: list[Any]) -> None:
        edge.runs.clear()
        edge.outcomes.clear()
        dead_before = edge.dlq_depth()
        messages, good_ids = [], []
        for kind in kinds:
            n = next(serial)
            body, envelope_id = fresh_envelope_body(template["Body"], n)
            if kind == "good":
                good_ids.append(envelope_id)
            else:
                name, text = kind
                body = BAD_BODIES[name](body, text)
            messages.append(copy_message(template, body=body, message_id=f"m-{n}"))
        with record_put_events() as put:
            failures = edge.invoke(messages)

        ids = [m["MessageId"] for m in messages]
        assert set(failures) <= set(ids)
        assert failures == []
        outcomes = edge.outcome_of()
        assert sorted(outcomes) == sorted(ids) and all(len(o) == 1 for o in outcomes.values())
        assert Counter(edge.runs) == Counter(good_ids)
        assert sum(o == ["handled"] for o in outcomes.values()) == len(good_ids)
        causes = Counter(json.loads(e["Detail"])["causationid"] for e in agent_entries(put.calls))
        assert causes == Counter(good_ids)
        assert edge.dlq_depth() - dead_before == len(kinds) - len(good_ids)
        for envelope_id in good_ids:
            item = edge.claim(envelope_id)
            assert item is not None and item["status"]["S"] == "COMPLETED"

    check()
