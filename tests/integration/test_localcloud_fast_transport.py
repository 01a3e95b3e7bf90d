"""The real runtime (`LambdaRuntime`) on the fast mode's transport, in one process: a batch
received from the SQLite queue, its handler's events routed into the listener's queue, a
redelivery answered from the claim (the handler not run again, the same event put again), and a
permanent error sent to the DLQ with the runtime's attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soorma import Agent
from soorma.config import Settings
from soorma.runtime import LambdaRuntime
from soorma_common import naming
from soorma_common.errors import DomainError
from soorma_common.topics import EventTopic
from soorma_dev.localcloud.fast.store import FastStore, create_store
from soorma_dev.localcloud.fast.transport import FastTransport
from soorma_dev.localcloud.lambda_context import LocalLambdaContext
from soorma_dev.provision import Platform
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_localcloud_fast_store import STAGE, envelope, platform_for, put

FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture
def world(tmp_path: Path):
    calls: list[str] = []
    billing, listener = Agent("billing"), Agent("listener")

    @billing.on_event("order.placed", topic=FACTS)
    def bill(event, context):
        calls.append(event.id)
        context.bus.publish(topic=FACTS, event_type="order.billed", data={"n": 1})

    @billing.on_event("order.poison", topic=FACTS)
    def refuse(event, context):
        raise DomainError("this order cannot be billed")

    @listener.on_event("order.billed", topic=FACTS)
    def heard(event, context):  # pragma: no cover - routing only
        pass

    return (*fast_runtime(tmp_path, billing, listener), calls)


def fast_runtime(
    tmp_path: Path, agent: Agent, *others: Agent
) -> tuple[FastStore, Platform, LambdaRuntime]:
    """A fast store routing between `agent` and `others`, and `agent`'s real runtime on it."""
    platform = platform_for(agent, *others)
    store = create_store(
        tmp_path / "fast.sqlite3",
        platform,
        [a.manifest() for a in (agent, *others)],
        visibility_timeout_seconds=30,
        event_log_agent=None,
    )
    conf = Settings.from_env(
        {
            "SOORMA_STAGE": STAGE,
            "SOORMA_IDEMPOTENCY_TABLE": naming.table_name(STAGE, "idempotency"),
            "SOORMA_PUBLISH_BACKOFF_SECONDS": "0",
        }
    )
    return store, platform, LambdaRuntime(agent, transport=FastTransport(store, conf), conf=conf)


def received(store: FastStore, platform, agent: str) -> tuple[list[dict], str]:
    url, arn, _dlq = platform.agents[agent].queues[FACTS]
    messages = store.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return messages, arn


def test_a_batch_is_handled_once_and_its_events_reach_the_listener(world) -> None:
    store, platform, runtime, calls = world
    placed = envelope("order.placed")
    put(store, placed)
    messages, arn = received(store, platform, "billing")
    event = lambda_event(messages, arn, queue_region(arn))

    assert runtime.handle_batch(event, LocalLambdaContext("billing", 30.0)) == {
        "batchItemFailures": []
    }
    (billed,) = received(store, platform, "listener")[0]
    first = json.loads(billed["Body"])["detail"]
    assert first["type"] == "order.billed" and first["causationid"] == placed.id

    # the same record delivered again: the claim answers, the stored event is put again
    assert runtime.handle_batch(event, LocalLambdaContext("billing", 30.0)) == {
        "batchItemFailures": []
    }
    assert calls == [placed.id]
    (again,) = received(store, platform, "listener")[0]
    assert json.loads(again["Body"])["detail"]["id"] == first["id"]


def test_a_permanent_error_goes_to_the_dlq_with_its_reason(world) -> None:
    store, platform, runtime, _ = world
    put(store, envelope("order.poison"))
    messages, arn = received(store, platform, "billing")
    response = runtime.handle_batch(
        lambda_event(messages, arn, queue_region(arn)), LocalLambdaContext("billing", 30.0)
    )
    assert response == {"batchItemFailures": []}  # dead-lettered counts as done
    dlq = platform.agents["billing"].queues[FACTS][2]
    (letter,) = store.sqs.receive_message(QueueUrl=dlq)["Messages"]
    attributes = letter["MessageAttributes"]
    assert attributes["SoormaDeadLetterKind"]["StringValue"] == "permanent-error"
    assert "cannot be billed" in attributes["SoormaError"]["StringValue"]
    assert letter["Body"] == messages[0]["Body"]
