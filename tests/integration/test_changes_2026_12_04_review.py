"""Adversarial review of the 2026-12-04 changes: the parse-first batch loop (`parse_each`), the
lazy service loader (`soorma.service_loader`), source-keyed claims and derived ids, the task
owner check (`refuse_another_source`) and source-keyed request decisions (`decide`).

Records are received from moto queues after a real `PutEvents` (copied and altered where a test
needs a shape EventBridge would not make). Defects are strict xfails naming the cause."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import Loader
from botocore.session import get_session

from soorma import Tool, Worker
from soorma.bus import derived_event_id
from soorma.requests import (
    PLATFORM_SOURCE,
    DynamoDBPendingRequests,
    InMemoryPendingRequests,
    SentRequest,
)
from soorma.runtime import LambdaRuntime, RecordOutcome
from soorma.runtime.claims import claim_key, encoded_source
from soorma.service_loader import ServiceNames, service_loader
from soorma.workflows import TaskContext
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import LambdaContextStub, MotoHarness
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_batch_loop_at_the_edges import AGENT, Edge, copy_message

FACTS = EventTopic.BUSINESS_FACTS
RESULTS = EventTopic.ACTION_RESULTS


# ---- 1. the parse-first batch loop ----------------------------------------------------------


def outcomes_by_id(outcomes: list[RecordOutcome]) -> list[tuple[str, str]]:
    return [(o.message_id, o.outcome) for o in outcomes]


@pytest.fixture
def edge(monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    monkeypatch.setenv("SOORMA_PUBLISH_BACKOFF_SECONDS", "0")
    with mock_aws():
        yield Edge()


def poison_batch(edge: Edge) -> list[dict[str, Any]]:
    """Five real messages: 0 good, 1 body not JSON (permanent), 2 receive count not a number
    (transient: `int()` raises ValueError), 3 body JSON but a list (permanent), 4 good."""
    edge.send(5)
    messages = sorted(edge.received(5), key=lambda m: json.loads(m["Body"])["detail"]["data"]["n"])
    messages[1] = copy_message(messages[1], body="{not json")
    messages[2] = copy_message(messages[2])
    messages[2]["Attributes"]["ApproximateReceiveCount"] = "many"
    messages[3] = copy_message(messages[3], body="[1, 2, 3]")
    return messages


def test_parse_errors_keep_their_turn_and_kind_among_handled_records(edge: Edge) -> None:
    messages = poison_batch(edge)
    ids = [m["MessageId"] for m in messages]

    failures = edge.invoke(messages)

    assert failures == [ids[2]]  # only the transient parse error is retried
    assert len(edge.runs) == 2  # the two good ones ran, once each
    # parse errors are reported in their turn, before the flush reports the handled ones
    assert outcomes_by_id(edge.outcomes) == [
        (ids[1], "dead-lettered"),
        (ids[2], "failed"),
        (ids[3], "dead-lettered"),
        (ids[0], "handled"),
        (ids[4], "handled"),
    ]
    assert isinstance(edge.outcomes[1].error, ValueError)
    assert len(edge.harness.dead_letters(AGENT)) == 2


class RunningOut(LambdaContextStub):
    """A context with 60 s left at the first look and 10 ms at every later one."""

    def __init__(self, function_name: str) -> None:
        super().__init__(function_name, timeout_ms=60_000)
        self.looks = 0

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        return 60_000 if self.looks == 1 else 10


def test_a_batch_out_of_time_after_parsing_dead_letters_nothing_and_retries_all(
    edge: Edge,
) -> None:
    messages = poison_batch(edge)
    ids = [m["MessageId"] for m in messages]

    failures = edge.invoke(messages, RunningOut(f"fn-{AGENT}"))

    # the first record always starts; the rest are not started: retried, the poison ones too
    # (their kept parse errors are not raised: not dead-lettered, a receive spent)
    assert failures == ids[1:]
    assert len(edge.runs) == 1
    assert outcomes_by_id(edge.outcomes) == [
        *((i, "failed") for i in ids[1:]),
        (ids[0], "handled"),
    ]
    assert all(type(o.error).__name__ == "BatchOutOfTimeError" for o in edge.outcomes[:4])
    assert edge.harness.dead_letters(AGENT) == []


def test_handle_record_alone_gives_what_the_batch_gives(edge: Edge) -> None:
    messages = poison_batch(edge)
    event = lambda_event(messages, edge.arn, queue_region(edge.arn))
    runtime = LambdaRuntime(edge.agent, on_outcome=edge.outcomes.append)
    records = event["Records"]

    assert runtime.handle_record(records[1]) is None  # dead-lettered
    with pytest.raises(ValueError):
        runtime.handle_record(records[2])
    handled = runtime.handle_record(records[0])
    assert handled is not None and [e.type for e in handled.events] == ["order.noted"]
    assert outcomes_by_id(edge.outcomes) == [
        (records[1]["messageId"], "dead-lettered"),
        (records[2]["messageId"], "failed"),
    ]


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="DEFECT (pre-existing, kept as it was by parse_each): a record that is not a dict "
    "fails, then handle_batch's `record['messageId']` (soorma/runtime/handler.py:127) raises "
    "TypeError out of the batch: the good record's events are not flushed. records_of could "
    "refuse non-dict records, or the failure use `record.get('messageId')` when it is a dict",
)
def test_a_record_that_is_not_a_dict_does_not_crash_the_batch(edge: Edge) -> None:
    """Not a shape Lambda sends; the batch must still answer for the good record."""
    edge.send(1)
    [message] = edge.received(1)
    event = lambda_event([message], edge.arn, queue_region(edge.arn))
    runtime = LambdaRuntime(edge.agent)
    response = runtime.handle_batch({"Records": [*event["Records"], "garbage"]})
    assert len(edge.runs) == 1 and isinstance(response["batchItemFailures"], list)


# ---- 2. the lazy service loader ---------------------------------------------------------------


@pytest.fixture
def soorma_session() -> Any:
    session = get_session()
    session.register_component("data_loader", service_loader(session))
    return session


@pytest.mark.parametrize(
    "name", ["dynamo", "../dynamodb", "dynamodb/2012-08-10", ".", "", "DYNAMODB", "a\x00b"]
)
def test_unknown_or_path_like_service_names_are_unknown(soorma_session: Any, name: str) -> None:
    with pytest.raises(UnknownServiceError) as raised:
        soorma_session.create_client(name, region_name="us-east-1")
    assert "dynamodb" in str(raised.value)  # the error still names every known service


def test_contains_rejects_what_the_full_listing_would_not_list() -> None:
    loader = service_loader(get_session())
    names = ServiceNames(loader, "service-2")
    full = set(Loader().list_available_services("service-2"))
    for candidate in ["dynamodb", "sqs", "events", "..", "dynamodb/", "no-such", None, 3]:
        assert (candidate in names) == (candidate in full), candidate
    assert list(names) == sorted(full) and len(names) == len(full)


def test_paginators_and_waiters_match_botocore_s_own(soorma_session: Any) -> None:
    plain = get_session()
    for service in ("dynamodb", "sqs", "events", "scheduler"):
        ours = soorma_session.create_client(service, region_name="us-east-1")
        theirs = plain.create_client(service, region_name="us-east-1")
        assert ours.waiter_names == theirs.waiter_names
        assert sorted(ours.meta.service_model.operation_names) == sorted(
            theirs.meta.service_model.operation_names
        )
        for operation in ours.meta.method_to_api_mapping:
            assert ours.can_paginate(operation) == theirs.can_paginate(operation)
    dynamodb = soorma_session.create_client("dynamodb", region_name="us-east-1")
    assert dynamodb.get_waiter("table_exists").name == "TableExists"
    assert dynamodb.get_paginator("scan") is not None
    with pytest.raises(ValueError):
        soorma_session.create_client("sqs", region_name="us-east-1").get_waiter("queue_exists")


def test_a_model_under_aws_data_path_is_found(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = Loader().load_service_model("sqs", "service-2")
    model = json.loads(json.dumps(base))
    model["metadata"]["serviceId"] = "Review Sqs"
    model["metadata"]["endpointPrefix"] = "sqs"
    folder = tmp_path / "reviewsqs" / base["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", f"{tmp_path}{os.pathsep}{tmp_path}/missing")
    session = get_session()
    loader = service_loader(session)
    session.register_component("data_loader", loader)
    assert "reviewsqs" in loader.list_available_services("service-2")
    assert loader.load_service_model("reviewsqs", "service-2")["metadata"]["serviceId"] == (
        "Review Sqs"
    )
    with pytest.raises(DataNotFoundError):
        loader.load_service_model("reviewsqs", "waiters-2")


def test_session_get_available_services_is_still_a_list(soorma_session: Any) -> None:
    available = soorma_session.get_available_services()
    assert available == get_session().get_available_services()
    assert json.loads(json.dumps(available)) == get_session().get_available_services()


@pytest.mark.parametrize("name", ["endpoints.json", "partitions.json"])
def test_a_data_file_s_name_is_an_unknown_service(soorma_session: Any, name: str) -> None:
    with pytest.raises(UnknownServiceError):
        soorma_session.create_client(name, region_name="us-east-1")


# ---- 3. claim keys and derived ids ------------------------------------------------------------

TRICKY = ["a", "a#b", "a@b", "a%23b", "a%b", "a#", "#a", "soorma.shop", "x" * 4000]


def test_claim_keys_and_derived_ids_never_collide_for_distinct_events() -> None:
    keys: dict[str, tuple[Any, ...]] = {}
    ids: dict[str, tuple[Any, ...]] = {}
    for source in TRICKY:
        for event_id in TRICKY:
            for replay in (None, "r#1", "r@1", "r"):
                at = (source, event_id, replay)
                assert keys.setdefault(claim_key("agent", source, event_id, replay), at) == at
                assert ids.setdefault(derived_event_id("ag", source, event_id, 0, replay), at) == at
    assert claim_key("agent", "s", "e", "") == claim_key("agent", "s", "e")  # '' is no replay
    assert encoded_source("a%23b") != encoded_source("a#b")


def test_a_control_separator_cannot_be_smuggled_into_a_source_or_id() -> None:
    """The derived ids join with \\x1f: an envelope holding one could collide."""
    for field in ("source", "id"):
        with pytest.raises(ValueError):
            EventEnvelope(type="t", topic=FACTS, **{"source": "soorma.x", field: "a\x1fb"})


# ---- 4. a task's owner ------------------------------------------------------------------------


def twice_delegating(replies_seen: list[str]) -> list[Any]:
    """`asker` asks `gatherer` for `job.split`; the gatherer delegates one `part.make`; its
    reply handler, on the first round's completion, delegates TWO more sub-requests with two
    `task.delegate` calls (a legitimate second delegation into the same task), then completes
    when they are in."""
    asker, gatherer, maker = Worker(name="asker"), Worker(name="gatherer"), Tool(name="maker")

    @asker.on_event("job.wanted", topic=FACTS)
    def wanted(event: EventEnvelope, context: Any) -> None:
        context.bus.request("job.split", event.data, response_event="job.done")

    @asker.on_result("job.done")
    def done(event: EventEnvelope, context: Any) -> None:
        replies_seen.append(event.source)

    @gatherer.on_task("job.split")
    async def split(event: EventEnvelope, context: Any) -> None:
        await TaskContext.for_context(context).delegate("part.make", {"n": 0}, "part.done")

    @gatherer.on_result()
    async def gathered(event: EventEnvelope, context: Any) -> None:
        task = await TaskContext.restore(context)
        assert task is not None
        fan_in = await task.record_result()
        if not fan_in.complete:
            return
        if len(task.results) == 1:
            await task.delegate("part.make", {"n": 1}, "part.done")
            await task.delegate("part.make", {"n": 2}, "part.done")
            return
        await task.complete({"count": len(task.results)})

    @maker.on_invoke("part.make", response_event="part.done")
    def make(event: EventEnvelope, context: Any) -> Any:
        return {"n": event.data["n"]}

    return [asker, gatherer, maker]


def test_a_reply_handler_may_delegate_twice_into_its_task(soorma_moto: Any) -> None:
    replies: list[str] = []
    harness: MotoHarness = soorma_moto(*twice_delegating(replies))
    harness.send("job.wanted", {}, topic=FACTS, tenant_id="acme", user_id="ada")
    harness.run_until_idle(max_rounds=200)
    refused = [h.reason for h in harness.handlings("gatherer") if h.outcome == "dead-lettered"]
    assert refused == []  # today: ["AlreadyExistsError: ... task ... from 'soorma.asker' ..."]
    assert harness.dead_letters() == []
    assert replies == ["soorma.gatherer"]


# ---- 5. a request's one decision ----------------------------------------------------------------

REQUEST = SentRequest(
    "asker", "r-9", "answer.compute", "answer.computed", "action-results", "c-9", None
)


def replies() -> dict[str, EventEnvelope]:
    solver = EventEnvelope(source="soorma.solver", type="answer.computed", topic=RESULTS)
    timeout = EventEnvelope(source=PLATFORM_SOURCE, type="answer.computed", topic=RESULTS)
    return {
        "solver": solver,
        "other": EventEnvelope(source="soorma.other", type="answer.computed", topic=RESULTS),
        "timeout": timeout,
        "impostor-of-solver": solver.model_copy(update={"source": "soorma.impostor"}),
        "impostor-of-timeout": timeout.model_copy(update={"source": "soorma.solver"}),
    }


SEQUENCES = [
    ["solver", "timeout", "solver", "impostor-of-solver", "other", "solver"],
    ["timeout", "solver", "timeout", "impostor-of-timeout", "timeout"],
    ["impostor-of-solver", "solver", "impostor-of-solver"],
]


@pytest.mark.parametrize("sequence", SEQUENCES, ids=["reply-first", "timeout-first", "impostor"])
def test_in_memory_and_dynamodb_decide_alike(soorma_moto: Any, sequence: list[str]) -> None:
    from soorma.config import settings

    soorma_moto([])
    table = settings().idempotency_table
    assert table is not None
    stored, memory = DynamoDBPendingRequests(table, ttl_seconds=3600), InMemoryPendingRequests()
    for pending in (stored, memory):
        pending.record([REQUEST])
    made = replies()
    on_moto = [stored.decide(REQUEST, made[name]) for name in sequence]
    in_memory = [memory.decide(REQUEST, made[name]) for name in sequence]
    assert on_moto == in_memory
    winner = sequence[0]
    assert on_moto == [name == winner for name in sequence]
