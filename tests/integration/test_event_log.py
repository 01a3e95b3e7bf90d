"""The platform's event log on moto: every event on the bus lands in the events table under its
correlation id (with a TTL), redeliveries do not duplicate it, and `trace` reads it back as a
causation tree."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from soorma.config import settings
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind
from soorma_common.routing import rules_for
from soorma_common.topics import EventTopic
from soorma_dev.harness import MotoHarness
from soorma_dev.localcloud.trace import build_tree, logged_envelopes
from soorma_dev.manifests import load_agent

EVENT_LOG = Path(__file__).resolve().parents[2] / "functions" / "event_log"


@pytest.fixture
def harness() -> Iterator[MotoHarness]:
    with mock_aws():
        yield MotoHarness([load_agent(EVENT_LOG)], stage="test")


def items(harness: MotoHarness) -> list[dict[str, Any]]:
    table = harness.platform.tables["events"]
    return list(harness.session.client("dynamodb").scan(TableName=table)["Items"])


def test_event_log_is_a_platform_agent_on_every_topic() -> None:
    manifest = load_agent(EVENT_LOG).manifest()

    assert manifest.name == "event-log"
    assert manifest.kind == AgentKind.PLATFORM
    assert {s.topic for s in manifest.subscriptions} == set(EventTopic)
    assert {s.event_type for s in manifest.subscriptions} == {"*"}
    assert manifest.produced_event_names == []
    rules = rules_for(manifest)
    assert len(rules) == len(EventTopic)
    assert all("detail-type" not in rule.pattern for rule in rules)


def test_every_topic_is_logged_by_correlation_id_with_a_ttl(harness: MotoHarness) -> None:
    root = EventEnvelope(source="soorma.tests", type="order.placed", topic="business-facts")
    child = EventEnvelope(
        source="soorma.shop",
        type="inventory.reserve",
        topic="action-requests",
        correlation_id=root.correlation_id,
        causation_id=root.id,
    )
    other = EventEnvelope(source="soorma.tests", type="bill.sent", topic="billing-events")
    for envelope in (root, child, other):
        harness.put(envelope)
    harness.run_until_idle()

    dynamodb = harness.session.client("dynamodb")
    logged = logged_envelopes(dynamodb, harness.platform.tables["events"], root.correlation_id)
    assert [e.id for e in logged] == [root.id, child.id]
    assert logged[1] == child
    stored = {i["event_id"]["S"]: i for i in items(harness)}
    assert set(stored) == {root.id, child.id, other.id}
    assert stored[child.id]["pk"]["S"] == f"CORR#{root.correlation_id}"
    assert stored[child.id]["causation_id"]["S"] == root.id
    ttl = int(stored[root.id]["expires_at"]["N"]) - time.time()
    assert 13 * 24 * 3600 < ttl <= 14 * 24 * 3600

    [tree] = build_tree(logged, [])
    assert tree.envelope.id == root.id
    assert [c.envelope.id for c in tree.children] == [child.id]


def test_a_redelivered_event_is_stored_once(harness: MotoHarness) -> None:
    envelope = EventEnvelope(source="soorma.tests", type="task.completed", topic="task-events")
    harness.put(envelope)
    messages = harness.receive("event-log", "task-events")
    assert len(messages) == 1
    first = harness.deliver("event-log", "task-events", messages)
    again = harness.deliver("event-log", "task-events", messages)

    assert first.failed_ids == again.failed_ids == []
    assert [i["event_id"]["S"] for i in items(harness)] == [envelope.id]


def test_ttl_can_be_configured(harness: MotoHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOORMA_EVENT_LOG_TTL_SECONDS", "60")
    settings.cache_clear()  # settings are read once per cold start
    harness.put(EventEnvelope(source="soorma.tests", type="x.happened", topic="system-events"))
    harness.run_until_idle()

    [item] = items(harness)
    assert int(item["expires_at"]["N"]) - time.time() <= 60


def test_a_malformed_record_goes_to_the_dlq_and_the_rest_are_stored(harness: MotoHarness) -> None:
    url, _, _ = harness.queue("event-log", "business-facts")
    sqs = harness.session.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="not an EventBridge event")
    good = EventEnvelope(source="soorma.tests", type="order.placed", topic="business-facts")
    harness.put(good)
    delivery = harness.deliver("event-log", "business-facts")

    assert delivery.failed_ids == []
    assert [i["event_id"]["S"] for i in items(harness)] == [good.id]
    [letter] = harness.dead_letters("event-log")
    assert letter.body == "not an EventBridge event"
    assert letter.kind == "permanent-error"


def test_a_user_and_a_tenant_are_erased_from_the_event_log(harness: MotoHarness) -> None:
    from soorma.memory import EventLogEraser, MemoryTable

    def event(tenant: str | None, user: str | None) -> EventEnvelope:
        return EventEnvelope(
            source="soorma.tests",
            type="note.taken",
            topic="business-facts",
            tenant_id=tenant,
            user_id=user,
        )

    ada, bob, eve, nobody = (
        event("acme", "ada"),
        event("acme", "bob"),
        event("globex", "eve"),
        (event(None, None)),
    )
    for envelope in (ada, bob, eve, nobody):
        harness.put(envelope)
    harness.run_until_idle()
    table = MemoryTable(
        harness.platform.tables["events"], ttl_seconds=0, client=harness.session.client("dynamodb")
    )

    def left() -> set[str]:
        return {i["event_id"]["S"] for i in items(harness)}

    assert EventLogEraser(table).forget_user("acme", "ada").deleted == 1
    assert left() == {bob.id, eve.id, nobody.id}
    assert EventLogEraser(table).forget_tenant("acme").deleted == 1
    assert left() == {eve.id, nobody.id}
