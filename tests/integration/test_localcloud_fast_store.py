"""The fast mode's SQLite store through its public faces: the claim keeper (the semantics of
the DynamoDB claim store), the SQS calls the local cloud makes (visibility, receive counts, the
move to the DLQ after `maxReceiveCount`, deletes, concurrent receivers) and PutEvents routed by
the agents' real rules (`rules_for`) into their queues and the event log. No moto needed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from soorma import Agent
from soorma.config import settings
from soorma.outbox import MAX_STORED_OUTBOX_BYTES
from soorma.publishing import EventBridgePublisher, encode_event
from soorma_common import naming
from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import ClaimInProgressError, OutboxNotStorableError
from soorma_common.topics import EventTopic
from soorma_dev.localcloud.fast.sqs import FastModeUnsupported
from soorma_dev.localcloud.fast.store import FastStore, create_store
from soorma_dev.provision import AgentQueues, Platform

STAGE = "fasttest"
ACCOUNT, REGION = "123456789012", "us-east-1"


def platform_for(*agents: Agent) -> Platform:
    """The platform `provision` would make for these agents (names as moto gives them)."""
    base = f"http://127.0.0.1:5000/{ACCOUNT}/"
    platform = Platform(
        STAGE,
        naming.bus_name(STAGE),
        {},
        {},
        bus_arn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{naming.bus_name(STAGE)}",
    )
    for agent in agents:
        queues = AgentQueues(agent.name)
        for topic in agent.manifest().topics():
            name = naming.queue_name(STAGE, agent.name, topic)
            dlq = naming.dead_letter_queue_name(name)
            queues.queues[topic] = (
                base + name,
                f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
                base + dlq,
            )
        platform.agents[agent.name] = queues
    return platform


def make_agents() -> tuple[Agent, Agent, Agent]:
    billing, shipping, log = Agent("billing"), Agent("shipping"), Agent("log")

    @billing.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
    def bill(event, context):  # pragma: no cover - routing only
        pass

    @shipping.on_event("order.paid", topic=EventTopic.BUSINESS_FACTS)
    def ship(event, context):  # pragma: no cover - routing only
        pass

    @log.on_event("*", topic=EventTopic.BUSINESS_FACTS)
    def record(event, context):  # pragma: no cover - routing only
        pass

    return billing, shipping, log


@pytest.fixture
def store(tmp_path: Path) -> FastStore:
    return fast_store(tmp_path)


def fast_store(tmp_path: Path) -> FastStore:
    """A fast store for billing, shipping and the event log (`make_agents`)."""
    agents = make_agents()
    return create_store(
        tmp_path / "fast.sqlite3",
        platform_for(*agents),
        [a.manifest() for a in agents],
        visibility_timeout_seconds=30,
        event_log_agent="log",
    )


def queue_url(store: FastStore, agent: str) -> str:
    return store.sqs.get_queue_url(QueueName=naming.queue_name(STAGE, agent, "business-facts"))[
        "QueueUrl"
    ]


def put(store: FastStore, *envelopes: EventEnvelope) -> None:
    """Put envelopes as the runtime does (the SDK's publisher, PutEvents of 10)."""
    limit = settings().max_event_bytes
    EventBridgePublisher(naming.bus_name(STAGE), sink=store.eventbridge, backoff_seconds=0).put(
        [encode_event(e.to_wire(), limit) for e in envelopes]
    )


def envelope(event_type: str, **attributes: object) -> EventEnvelope:
    return EventEnvelope(
        source="soorma.tests", type=event_type, topic=EventTopic.BUSINESS_FACTS, **attributes
    )


# ---- routing and the event log ------------------------------------------------------------------


def test_put_events_reach_the_queues_whose_rules_match_and_the_event_log(store) -> None:
    placed, paid = envelope("order.placed"), envelope("order.paid", correlation_id="c-1")
    put(store, placed, paid)

    def bodies(agent: str) -> list[dict]:
        got = store.sqs.receive_message(QueueUrl=queue_url(store, agent), MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    (billed,) = bodies("billing")
    assert billed["detail"]["id"] == placed.id
    assert billed["detail-type"] == "order.placed" and billed["source"] == "soorma.tests"
    assert [b["detail"]["id"] for b in bodies("shipping")] == [paid.id]
    assert [e.id for e in store.logged_envelopes(placed.correlation_id)] == [placed.id]
    assert [e.id for e in store.logged_envelopes("c-1")] == [paid.id]
    assert store.logged_correlation_ids("c-") == ["c-1"]
    # the event log is a table here: its agent has no queue messages
    assert store.sqs.receive_message(QueueUrl=queue_url(store, "log")) == {}


def test_an_entry_for_another_bus_fails_alone(store) -> None:
    good = {
        "EventBusName": naming.bus_name(STAGE),
        "Source": "soorma.tests",
        "DetailType": "order.placed",
        "Detail": envelope("order.placed").to_json(),
    }
    response = store.eventbridge.put_events(Entries=[good, {**good, "EventBusName": "other"}])
    assert response["FailedEntryCount"] == 1
    assert "EventId" in response["Entries"][0] and "ErrorCode" in response["Entries"][1]


# ---- SQS ----------------------------------------------------------------------------------------


def test_a_received_message_is_hidden_then_back_with_a_higher_receive_count(store) -> None:
    url = queue_url(store, "billing")
    sent = store.sqs.send_message(QueueUrl=url, MessageBody="one")
    (first,) = store.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert first["MessageId"] == sent["MessageId"] and first["Body"] == "one"
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert store.sqs.receive_message(QueueUrl=url) == {}  # in flight
    counts = store.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"

    store.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "0", "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 0}],
    )
    (second,) = store.sqs.receive_message(QueueUrl=url)["Messages"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    store.sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": second["ReceiptHandle"]}]
    )
    assert store.sqs.depths([url]) == {url: 0}


def test_after_max_receives_the_next_receive_moves_the_message_to_the_dlq(store) -> None:
    url = queue_url(store, "billing")
    sent = store.sqs.send_message(QueueUrl=url, MessageBody="doomed")
    for _ in range(MAX_RECEIVE_COUNT):
        (message,) = store.sqs.receive_message(QueueUrl=url)["Messages"]
        store.sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "0", "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            ],
        )
    assert store.sqs.receive_message(QueueUrl=url) == {}
    dlq = store.sqs.get_queue_url(QueueName=naming.dead_letter_queue_name(url.rsplit("/", 1)[1]))
    (dead,) = store.sqs.receive_message(QueueUrl=dlq["QueueUrl"])["Messages"]
    assert dead["MessageId"] == sent["MessageId"] and dead["Body"] == "doomed"


def test_concurrent_receivers_never_take_the_same_message(store) -> None:
    url = queue_url(store, "billing")
    bodies = [f"m{i}" for i in range(300)]
    for body in bodies:
        store.sqs.send_message(QueueUrl=url, MessageBody=body)
    taken: list[str] = []
    lock = threading.Lock()

    def drain() -> None:
        while messages := store.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            with lock:
                taken.extend(m["Body"] for m in messages)
            store.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(bodies)


def test_a_call_the_fast_mode_lacks_names_the_faithful_mode(store) -> None:
    with pytest.raises(FastModeUnsupported, match="faithful mode"):
        store.sqs.purge_queue(QueueUrl=queue_url(store, "billing"))
    assert not hasattr(store.eventbridge, "list_rules")


# ---- claims -------------------------------------------------------------------------------------


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_completed_claim_returns_its_stored_events_without_running_again(store) -> None:
    keeper = store.claims(expires_after_seconds=3600)
    runs: list[int] = []
    assert keeper.run_once("a#e-1", lambda: runs.append(1) or ["ZXZlbnQ="]) == ["ZXZlbnQ="]
    other = store.claims(expires_after_seconds=3600)  # another worker
    assert other.run_once("a#e-1", lambda: runs.append(2) or []) == ["ZXZlbnQ="]
    assert runs == [1]


def test_work_that_fails_releases_the_claim(store) -> None:
    keeper = store.claims(expires_after_seconds=3600)
    with pytest.raises(RuntimeError):
        keeper.run_once("a#e-2", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert keeper.run_once("a#e-2", lambda: ["b2s="]) == ["b2s="]


def test_a_claim_in_progress_is_a_transient_error_until_its_invocation_time_is_over(store) -> None:
    holder, other = (
        store.claims(expires_after_seconds=3600),
        store.claims(expires_after_seconds=3600),
    )
    holder.register_lambda_context(Context(remaining_ms=60_000))
    seen: list[BaseException] = []

    def work() -> list[str]:
        with pytest.raises(ClaimInProgressError) as held:
            other.run_once("a#e-3", lambda: [])
        seen.append(held.value)
        return []

    holder.run_once("a#e-3", work)
    assert "held by another invocation" in str(seen[0])

    stale = store.claims(expires_after_seconds=3600)
    stale.register_lambda_context(Context(remaining_ms=0))  # its invocation timed out

    def abandoned() -> list[str]:
        # the claim outlived its invocation's remaining time: another one takes it
        return other.run_once("a#e-4", lambda: ["dGFrZW4="])

    assert stale.run_once("a#e-4", abandoned) == ["dGFrZW4="]


def test_an_expired_claim_is_taken_anew(store) -> None:
    keeper = store.claims(expires_after_seconds=-1)  # every claim already expired
    runs: list[int] = []
    keeper.run_once("a#e-5", lambda: runs.append(1) or [])
    keeper.run_once("a#e-5", lambda: runs.append(2) or [])
    assert runs == [1, 2]


def test_events_too_large_for_a_dynamodb_item_are_refused_and_the_claim_released(store) -> None:
    keeper = store.claims(expires_after_seconds=3600)
    with pytest.raises(OutboxNotStorableError, match="could not be stored"):
        keeper.run_once("a#e-6", lambda: ["x" * MAX_STORED_OUTBOX_BYTES])
    assert keeper.run_once("a#e-6", lambda: []) == []
