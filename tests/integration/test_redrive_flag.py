"""Every redrive tool flags what it sends back (`SoormaRedriven`), so the runtime can refuse a
redriven event whose claim has expired instead of handling it a second time (issue 10)."""

from __future__ import annotations

from typing import Any

from soorma import Agent
from soorma.runtime.records import REDRIVEN_ATTRIBUTE
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import PermanentError
from soorma_dev.harness import MotoHarness
from soorma_dev.inmemory import InMemoryBus

FACTS = EventTopic.BUSINESS_FACTS


def poison_agent() -> Agent:
    agent = Agent(name="validator")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        raise PermanentError("order has no total")

    return agent


def test_the_in_memory_bus_flags_what_it_redrives() -> None:
    with InMemoryBus([poison_agent()]) as bus:
        bus.send("order.placed", {"order_id": "poison"}, topic=FACTS)
        bus.run_until_idle()
        first = bus.invocations[-1][1]["Records"][0]
        assert REDRIVEN_ATTRIBUTE not in first["messageAttributes"]

        assert bus.redrive("validator") == 1
        bus.run_until_idle()
        again = bus.invocations[-1][1]["Records"][0]

    assert again["messageAttributes"][REDRIVEN_ATTRIBUTE]["stringValue"] == "true"


def test_the_moto_harness_and_local_cloud_redrive_flag_what_they_send_back(
    soorma_moto: Any,
) -> None:
    harness: MotoHarness = soorma_moto(poison_agent())
    harness.send("order.placed", {"order_id": "poison"}, topic=FACTS)
    harness.run_until_idle()
    [letter] = harness.dead_letters("validator")

    assert harness.redrive("validator") == 1
    url, _, _ = harness.queue("validator", FACTS)
    [message] = harness.sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]

    assert message["Body"] == letter.body
    assert message["MessageAttributes"][REDRIVEN_ATTRIBUTE]["StringValue"] == "true"
