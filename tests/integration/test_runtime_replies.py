"""Requests and replies on moto: a reply reaches only the agent named in `reply_to`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Tool, Worker
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import DomainError
from soorma_dev.harness import MotoHarness

FACTS = EventTopic.BUSINESS_FACTS
RESULTS = EventTopic.ACTION_RESULTS


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def requester(name: str, results: dict[str, list[EventEnvelope]]) -> Worker:
    worker = Worker(name)
    results[name] = []

    @worker.on_event("quote.needed", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("price.requested", {"sku": name}, response_event="price.quoted")

    @worker.on_result()
    def got(event: EventEnvelope, context: Any) -> None:
        results[name].append(event)

    return worker


def pricing_tool() -> Tool:
    tool = Tool("pricer")

    @tool.on_invoke("price.requested")
    def price(event: EventEnvelope, context: Any) -> dict[str, Any]:
        if event.data["sku"] == "unknown":
            raise DomainError("no price for sku 'unknown'")
        return {"sku": event.data["sku"], "price": 10}

    return tool


def test_each_reply_reaches_only_its_requester() -> None:
    results: dict[str, list[EventEnvelope]] = {}
    harness = MotoHarness(
        [requester("buyer-a", results), requester("buyer-b", results), pricing_tool()]
    )
    need = harness.publisher().publish(FACTS, "quote.needed", {})

    harness.run_until_idle()

    requests = {d["replyto"]: d for d in harness.delivered_details("pricer")}
    assert set(requests) == {"buyer-a", "buyer-b"}
    for name in ("buyer-a", "buyer-b"):
        [reply] = results[name]
        assert reply.type == "price.quoted"
        assert reply.reply_to == name
        assert reply.data == {"sku": name, "price": 10}
        assert reply.causation_id == requests[name]["id"]
        assert reply.correlation_id == need.correlation_id
        replies = [d for d in harness.delivered_details(name) if d["topic"] == RESULTS.value]
        assert [d["replyto"] for d in replies] == [name]


def test_a_domain_error_replies_failure_to_the_requester() -> None:
    results: dict[str, list[EventEnvelope]] = {}
    harness = MotoHarness([requester("unknown", results), pricing_tool()])
    harness.publisher().publish(FACTS, "quote.needed", {})

    harness.run_until_idle()

    [reply] = results["unknown"]
    assert reply.data == {"success": False, "error": "no price for sku 'unknown'"}
    assert harness.dead_letters("pricer", EventTopic.ACTION_REQUESTS) == []
