"""Exactly-once effect on moto: duplicates, fresh execution environments, EventBridge replays."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma.agents.base import Agent as AgentType
from soorma_common import EventTopic
from soorma_dev.harness import MotoHarness, record_put_events
from soorma_dev.manifests import import_handler_module

FACTS = EventTopic.BUSINESS_FACTS

AGENT_MODULE = """
import os
import random

from soorma import Agent

agent = Agent("{name}")


@agent.on_event("order.placed", topic="business-facts")
def handle(event, context):
    with open(os.environ["RUN_LOG"], "a") as log:
        log.write(event.id + "\\n")
    context.bus.announce("order.scored", {{"score": random.random()}})
    context.bus.announce("order.noted", {{"order": event.data["order"]}})
"""


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def function_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "functions" / "scorer"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(textwrap.dedent(AGENT_MODULE.format(name="scorer")))
    monkeypatch.setenv("RUN_LOG", str(tmp_path / "runs.log"))
    return folder


def fresh_agent(folder: Path) -> AgentType:
    """Import the agent module anew, as a new Lambda execution environment would."""
    agent = import_handler_module(folder).agent
    assert isinstance(agent, Agent)
    return agent


def sink() -> Agent:
    agent = Agent("scores")

    @agent.on_event("*", topic=FACTS)
    def receive(event: Any, context: Any) -> None:
        return None

    return agent


def runs(folder: Path) -> list[str]:
    log = folder.parent.parent / "runs.log"
    return log.read_text().split() if log.exists() else []


def test_duplicate_delivery_to_a_fresh_module_runs_once_and_reflushes_the_same_events(
    function_folder: Path,
) -> None:
    first = fresh_agent(function_folder)
    harness = MotoHarness([first, sink()])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.put(order)  # EventBridge delivers at least once: the same envelope twice

    messages = harness.receive("scorer", FACTS)
    assert len(messages) == 2
    with record_put_events() as first_flush:
        harness.deliver("scorer", FACTS, messages[:1])
    second = fresh_agent(function_folder)
    assert second is not first
    harness.replace_agent(second)
    with record_put_events() as reflush:
        delivery = harness.deliver("scorer", FACTS, messages[1:])

    assert delivery.failed_ids == []
    assert runs(function_folder) == [order.id]
    assert reflush.details() == first_flush.details()
    [record] = harness.idempotency_records()
    assert int(record["expires_at"]["N"]) > time.time()
    assert record["status"]["S"] == "COMPLETED"

    harness.run_until_idle()
    delivered = [d for d in harness.delivered_details("scores") if d["type"] != "order.placed"]
    assert len(delivered) == 4  # two events, flushed twice, same ids: consumers drop duplicates
    assert len({d["id"] for d in delivered}) == 2
    scores = {d["data"]["score"] for d in delivered if d["type"] == "order.scored"}
    assert len(scores) == 1


def test_a_random_handler_retried_after_its_flush_publishes_its_first_output(
    function_folder: Path,
) -> None:
    harness = MotoHarness([fresh_agent(function_folder), sink()])
    harness.send("order.placed", {"order": "o-2"}, topic=FACTS)
    [message] = harness.receive("scorer", FACTS)
    with record_put_events() as first:
        harness.deliver("scorer", FACTS, [message])
    # The flush happened, then the invocation was lost before SQS deleted the record: SQS
    # delivers it again (same body) to whichever environment polls next.
    harness.send_raw("scorer", FACTS, message["Body"])
    harness.replace_agent(fresh_agent(function_folder))
    with record_put_events() as retry:
        harness.deliver("scorer", FACTS)

    [first_score] = [d for d in first.details() if d["type"] == "order.scored"]
    [retry_score] = [d for d in retry.details() if d["type"] == "order.scored"]
    assert retry_score == first_score
    assert len(runs(function_folder)) == 1


def test_an_eventbridge_replay_is_handled_again(function_folder: Path) -> None:
    harness = MotoHarness([fresh_agent(function_folder)])
    events = harness.events
    bus_arn = events.describe_event_bus(Name=harness.platform.bus_name)["Arn"]
    archive_arn = events.create_archive(ArchiveName="orders", EventSourceArn=bus_arn)["ArchiveArn"]
    order = harness.send("order.placed", {"order": "o-3"}, topic=FACTS)
    harness.run_until_idle()
    assert runs(function_folder) == [order.id]

    events.start_replay(
        ReplayName="after-bugfix",
        EventSourceArn=archive_arn,
        EventStartTime=order.time.replace(year=order.time.year - 1),
        EventEndTime=order.time.replace(year=order.time.year + 1),
        Destination={"Arn": bus_arn},
    )
    replayed = harness.receive("scorer", FACTS)
    assert [json.loads(m["Body"]).get("replay-name") for m in replayed] == ["after-bugfix"]
    with record_put_events() as replay_flush:
        harness.deliver("scorer", FACTS, replayed)

    assert runs(function_folder) == [order.id, order.id]
    assert replay_flush.count == 1
    assert len(harness.idempotency_records()) == 2  # one claim per (event, replay)
