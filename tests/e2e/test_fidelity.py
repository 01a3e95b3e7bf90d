"""The local cloud behaves like AWS: each test names the AWS behaviour it checks and quotes the
AWS documentation. One local cloud (moto's server, worker processes, event log) runs for the
module, with small test agents written to a temporary folder; visibility timeouts are 1 s.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.localcloud import ActivityLine, LocalCloud

#: 180 s (6 x the 30 s function timeout) x 1/180 = a 1 s visibility timeout.
TIME_SCALE = 1 / 180

PRELUDE = """
import os
from pathlib import Path
from soorma import Agent, Worker
from soorma_common.errors import DomainError, TransientError
from soorma_common.topics import EventTopic

STORE = Path(os.environ.get("FIDELITY_STORE", "."))


def first_time(name):
    '''True the first time `name` is seen by any process (an O_EXCL marker file).'''
    try:
        os.close(os.open(STORE / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
"""

AGENTS = {
    "fid-match": """
agent = Agent("fid-match")

@agent.on_event("fid.order.placed", topic=EventTopic.BUSINESS_FACTS)
def exact(event, context):
    pass

@agent.on_event("fid.ship.*", topic=EventTopic.BUSINESS_FACTS)
def prefix(event, context):
    pass

@agent.on_event("*", topic=EventTopic.NOTIFICATION_EVENTS)
def everything(event, context):
    pass

handler = agent.lambda_handler
""",
    "fid-responder": """
worker = Worker("fid-responder")

@worker.on_task("fid.calc.add")
def add(event, context):
    return {"sum": event.data["a"] + event.data["b"]}

@worker.on_event("fid.burst.start")
def burst(event, context):
    for i in range(event.data["count"]):
        context.bus.publish(
            topic=EventTopic.BUSINESS_FACTS, event_type="fid.burst.item", data={"i": i}
        )

handler = worker.lambda_handler
""",
    "fid-asker": """
worker = Worker("fid-asker")

@worker.on_result()
def result(event, context):
    pass

handler = worker.lambda_handler
""",
    "fid-bystander": """
worker = Worker("fid-bystander")

@worker.on_result()
def result(event, context):
    pass

@worker.on_event("fid.burst.item", topic=EventTopic.BUSINESS_FACTS)
def item(event, context):
    pass

handler = worker.lambda_handler
""",
    "fid-flaky": """
agent = Agent("fid-flaky")

@agent.on_event("fid.flaky.once", topic=EventTopic.TASK_EVENTS)
def once(event, context):
    if event.data.get("fail") and first_time(f"once-{event.id}"):
        raise TransientError("injected: fails on its first delivery")

@agent.on_event("fid.flaky.always", topic=EventTopic.TASK_EVENTS)
def always(event, context):
    raise TransientError("injected: fails on every delivery")

@agent.on_event("fid.flaky.poison", topic=EventTopic.TASK_EVENTS)
def poison(event, context):
    if not (STORE / "poison-fixed").exists():
        raise DomainError("injected: poison until fixed")

handler = agent.lambda_handler
""",
    "fid-fanout-a": """
agent = Agent("fid-fanout-a")

@agent.on_event("fid.fanout.happened", topic=EventTopic.BUSINESS_FACTS)
def happened(event, context):
    if first_time(f"fanout-{event.id}"):
        raise TransientError("injected: fails on its first delivery")

handler = agent.lambda_handler
""",
    "fid-fanout-b": """
agent = Agent("fid-fanout-b")

@agent.on_event("fid.fanout.happened", topic=EventTopic.BUSINESS_FACTS)
def happened(event, context):
    pass

handler = agent.lambda_handler
""",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fidelity-store")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, store: Path) -> LocalCloud:
    root = tmp_path_factory.mktemp("fidelity-agents")
    paths = []
    for name, source in AGENTS.items():
        folder = root / name.replace("-", "_")
        folder.mkdir()
        (folder / "handler.py").write_text(PRELUDE + textwrap.dedent(source))
        paths.append(folder)
    with LocalCloud(
        paths,
        time_scale=TIME_SCALE,
        state_dir=tmp_path_factory.mktemp("fidelity-state"),
        env={"FIDELITY_STORE": str(store)},
    ) as running:
        yield running


def lines_for(cloud: LocalCloud, event_id: str) -> list[ActivityLine]:
    return [line for line in cloud.activity() if line.event_id == event_id]


def handled_by(cloud: LocalCloud, envelope: EventEnvelope) -> set[str]:
    return {a.agent for a in lines_for(cloud, envelope.id) if a.outcome == "handled"}


def seconds_between(earlier: str, later: str) -> float:
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(later) - parse(earlier)).total_seconds()


# ---- event patterns -----------------------------------------------------------------------------


def test_exact_detail_type_matches_only_that_type(cloud: LocalCloud) -> None:
    """EventBridge: "Event patterns ... match the values exactly: the event must contain the exact
    value in the pattern" (Amazon EventBridge User Guide, "Creating event patterns")."""
    placed = cloud.send("fid.order.placed", {}, topic="business-facts")
    similar = cloud.send("fid.order.placed.v2", {}, topic="business-facts")
    other_topic = cloud.send("fid.order.placed", {}, topic="action-requests")
    cloud.wait_until_idle()

    assert handled_by(cloud, placed) == {"fid-match"}
    assert handled_by(cloud, similar) == set()
    assert handled_by(cloud, other_topic) == set()


def test_prefix_pattern_matches_the_start_of_the_value(cloud: LocalCloud) -> None:
    """EventBridge: "Prefix matching ... matches the beginning of a value" with
    `{"prefix": "..."}` (User Guide, "Content filtering in event patterns")."""
    sent = cloud.send("fid.ship.sent", {}, topic="business-facts")
    nested = cloud.send("fid.ship.sent.late", {}, topic="business-facts")
    no_dot = cloud.send("fid.shipment", {}, topic="business-facts")
    cloud.wait_until_idle()

    assert handled_by(cloud, sent) == {"fid-match"}
    assert handled_by(cloud, nested) == {"fid-match"}
    assert handled_by(cloud, no_dot) == set()


def test_wildcard_subscription_matches_every_type_on_its_topic_only(cloud: LocalCloud) -> None:
    """EventBridge: a pattern with no `detail-type` field matches any detail-type: "fields not
    in the pattern are not used for matching" (User Guide, "Event patterns")."""
    anything = cloud.send("fid.anything.at.all", {}, topic="notification-events")
    elsewhere = cloud.send("fid.anything.at.all", {}, topic="billing-events")
    cloud.wait_until_idle()

    assert handled_by(cloud, anything) == {"fid-match"}
    assert handled_by(cloud, elsewhere) == set()


def test_replies_reach_only_the_agent_named_in_replyto(cloud: LocalCloud) -> None:
    """EventBridge: a rule matching `detail.replyto` delivers "only the events that match" its
    nested field (User Guide, "Matching on nested fields"); two agents with result handlers
    each get only the replies addressed to them."""
    request = cloud.send(
        "fid.calc.add",
        {"a": 2, "b": 3},
        topic="action-requests",
        response_event="fid.calc.added",
        reply_to="fid-asker",
    )
    cloud.wait_until_idle()

    [root] = cloud.trace(request.correlation_id)
    assert root.envelope.id == request.id
    assert [h.agent for h in root.handled] == ["fid-responder"]
    [reply] = root.children
    assert reply.envelope.type == "fid.calc.added"
    assert reply.envelope.data == {"sum": 5}
    assert reply.envelope.causation_id == request.id
    assert reply.envelope.correlation_id == request.correlation_id
    assert [(h.agent, h.outcome) for h in reply.handled] == [("fid-asker", "handled")]


# ---- SQS -> Lambda event-source mapping ---------------------------------------------------------


@pytest.fixture(scope="module")
def partial_batch(cloud: LocalCloud) -> tuple[list[EventEnvelope], set[str]]:
    """Ten events put in one PutEvents (so received as one batch of up to 10); three fail once."""
    envelopes = [
        EventEnvelope(
            source="soorma.tests",
            type="fid.flaky.once",
            topic=EventTopic.TASK_EVENTS,
            data={"fail": i in (2, 5, 7)},
        )
        for i in range(10)
    ]
    cloud.publish(envelopes)
    cloud.wait_until_idle()
    failing = {e.id for e in envelopes if e.data["fail"]}
    return envelopes, failing


def test_partial_batch_failure_returns_only_the_failed_records(
    cloud: LocalCloud, partial_batch: tuple[list[EventEnvelope], set[str]]
) -> None:
    """Lambda: "When your function returns a partial batch response, Lambda ... deletes the
    successful messages and makes only the failed messages visible again after the visibility
    timeout" (Lambda Developer Guide, "Handling errors for an SQS event source in Lambda",
    ReportBatchItemFailures)."""
    envelopes, failing = partial_batch
    for envelope in envelopes:
        outcomes = [a.outcome for a in lines_for(cloud, envelope.id)]
        if envelope.id in failing:
            assert outcomes == ["failed", "handled"], envelope.data
        else:
            assert outcomes == ["handled"], envelope.data


def test_failed_record_comes_back_after_the_visibility_timeout(
    cloud: LocalCloud, partial_batch: tuple[list[EventEnvelope], set[str]]
) -> None:
    """SQS: "Immediately after a message is received, it remains in the queue. To prevent other
    consumers from processing the message again, Amazon SQS sets a visibility timeout, a period
    of time during which Amazon SQS prevents all consumers from receiving and processing the
    message" (SQS Developer Guide, "Amazon SQS visibility timeout")."""
    _, failing = partial_batch
    url, _, _ = cloud.platform.agents["fid-flaky"].queues[EventTopic.TASK_EVENTS]
    configured = cloud.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    assert int(configured) == cloud.visibility_timeout_seconds == 1
    for event_id in failing:
        failed, handled = lines_for(cloud, event_id)
        assert failed.received and handled.received
        gap = seconds_between(failed.received, handled.received)
        # received times are taken when ReceiveMessage returns: allow for response latency
        assert gap >= 0.8 * cloud.visibility_timeout_seconds


def test_sqs_moves_a_message_to_the_dlq_after_max_receive_count(cloud: LocalCloud) -> None:
    """SQS: "maxReceiveCount - The number of times a message is delivered to the source queue
    before being moved to the dead-letter queue" (SQS Developer Guide, "Using dead-letter
    queues"); the DLQ message is the EventBridge event, and our redrive is explicit."""
    doomed = cloud.send("fid.flaky.always", {}, topic="task-events")
    cloud.wait_until_idle(timeout=60)

    outcomes = [a.outcome for a in lines_for(cloud, doomed.id)]
    assert outcomes == ["failed"] * MAX_RECEIVE_COUNT + ["dead-lettered"]
    [letter] = [
        d for d in cloud.dead_letters("fid-flaky") if d.envelope and d.envelope.id == doomed.id
    ]
    assert letter.kind == "redrive-after-max-receives"
    assert letter.queue == "soorma-local-fid-flaky-task-events"
    assert letter.topic == "task-events"


def test_permanent_error_goes_to_the_dlq_at_once_and_is_redriven_after_the_fix(
    cloud: LocalCloud, store: Path
) -> None:
    """Soorma's runtime (ARCHITECTURE.md "Delivery path"): permanent errors go to the queue's DLQ
    at once with the reason as a message attribute, without burning retries; SQS: "you can
    redrive messages ... back to their source queue" (SQS Developer Guide, "Configuring a
    dead-letter queue redrive") — done here with an explicit SendMessage."""
    poison = cloud.send("fid.flaky.poison", {}, topic="task-events")
    cloud.wait_until_idle()

    [line] = lines_for(cloud, poison.id)
    assert line.outcome == "dead-lettered"
    assert "DomainError" in (line.reason or "")
    [letter] = [
        d for d in cloud.dead_letters("fid-flaky") if d.envelope and d.envelope.id == poison.id
    ]
    assert letter.kind == "permanent-error"
    assert "poison until fixed" in (letter.reason or "")

    (store / "poison-fixed").touch()
    assert cloud.redrive("fid-flaky", message_ids=[letter.message_id]) == 1
    cloud.wait_until_idle()

    assert [a.outcome for a in lines_for(cloud, poison.id)] == ["dead-lettered", "handled"]
    assert all(d.message_id != letter.message_id for d in cloud.dead_letters("fid-flaky"))


# ---- EventBridge ----------------------------------------------------------------------------


def test_put_events_takes_at_most_ten_entries(cloud: LocalCloud) -> None:
    """EventBridge PutEvents: "Entries: The entry that defines an event in your system ... Array
    Members: Minimum number of 1 item. Maximum number of 10 items" (EventBridge API Reference);
    the SDK splits a handler's 25 events into calls of 10 and every one arrives."""
    events = cloud.client("events")
    entries = [
        {
            "Source": "soorma.tests",
            "DetailType": "fid.too.many",
            "Detail": "{}",
            "EventBusName": cloud.platform.bus_name,
        }
    ] * 11
    with pytest.raises(ClientError) as error:
        events.put_events(Entries=entries)
    assert error.value.response["Error"]["Code"] == "ValidationException"

    start = cloud.send("fid.burst.start", {"count": 25}, topic="action-requests")
    cloud.wait_until_idle()
    items = [
        a
        for a in cloud.activity()
        if a.causation_id == start.id and a.agent == "fid-bystander" and a.outcome == "handled"
    ]
    assert len({a.event_id for a in items}) == 25


def test_fan_out_delivers_to_independent_queues(cloud: LocalCloud) -> None:
    """EventBridge: "A rule can ... send the event to multiple targets" and SQS queues are
    independent consumers: each agent's rule feeds its own queue, so one agent's failure and
    retry do not redeliver the event to the other (ARCHITECTURE.md, consumer-group semantics)."""
    queues = {
        name: cloud.platform.agents[name].queues[EventTopic.BUSINESS_FACTS][0]
        for name in ("fid-fanout-a", "fid-fanout-b")
    }
    assert len(set(queues.values())) == 2

    fact = cloud.send("fid.fanout.happened", {}, topic="business-facts")
    cloud.wait_until_idle()

    by_agent: dict[str, list[str]] = defaultdict(list)
    for line in lines_for(cloud, fact.id):
        by_agent[line.agent].append(line.outcome)
    assert by_agent == {"fid-fanout-a": ["failed", "handled"], "fid-fanout-b": ["handled"]}
