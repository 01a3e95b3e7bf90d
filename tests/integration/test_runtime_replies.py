"""Requests and replies on moto: a reply reaches only the agent named in `reply_to`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from pydantic import BaseModel

from soorma import Tool, Worker
from soorma_common import EventDefinition, EventEnvelope, EventTopic
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
    need = harness.send("quote.needed", {}, topic=FACTS)

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
    harness.send("quote.needed", {}, topic=FACTS)

    harness.run_until_idle()

    [reply] = results["unknown"]
    assert reply.data == {"success": False, "error": "no price for sku 'unknown'"}
    assert harness.dead_letters("pricer") == []


class Quote(BaseModel):
    sku: str
    price: float


QUOTED = EventDefinition(
    event_name="price.quoted",
    topic=RESULTS,
    description="A price for a sku",
    payload_schema=Quote,
)


def typed_requester(results: list[EventEnvelope]) -> Worker:
    worker = Worker("typed-buyer", events_consumed=[QUOTED])

    @worker.on_event("quote.needed", topic=FACTS)
    def ask(event: EventEnvelope, context: Any) -> None:
        context.bus.request("price.requested", event.data, response_event="price.quoted")

    @worker.on_result()
    def got(event: EventEnvelope, context: Any) -> None:
        results.append(event)

    return worker


def typed_tool() -> Tool:
    tool = Tool("typed-pricer", events_produced=[QUOTED], default_response_event="price.quoted")

    @tool.on_invoke("price.requested")
    def price(event: EventEnvelope, context: Any) -> dict[str, Any]:
        sku = event.data["sku"]
        if sku == "unknown":
            raise DomainError(f"no price for sku {sku!r}")
        if sku == "pretends-to-fail":  # looks like a failure reply, but is not exactly one
            return {"success": False, "error": "nope", "sku": sku}
        return {"sku": sku, "price": 10}

    return tool


def test_a_failure_reply_reaches_the_requester_despite_the_reply_schema() -> None:
    results: list[EventEnvelope] = []
    harness = MotoHarness([typed_requester(results), typed_tool()])
    harness.send("quote.needed", {"sku": "known"}, topic=FACTS)
    harness.send("quote.needed", {"sku": "unknown"}, topic=FACTS)

    harness.run_until_idle()

    assert sorted((r.data.get("success", True), r.type) for r in results) == [
        (False, "price.quoted"),
        (True, "price.quoted"),
    ]
    [failure] = [r for r in results if "error" in r.data]
    assert failure.data == {"success": False, "error": "no price for sku 'unknown'"}
    assert failure.reply_to == "typed-buyer"
    assert harness.dead_letters("typed-buyer") == []
    assert harness.dead_letters("typed-pricer") == []


def test_only_the_exact_failure_shape_is_exempt_from_the_reply_schema() -> None:
    results: list[EventEnvelope] = []
    harness = MotoHarness([typed_requester(results), typed_tool()])
    harness.send("quote.needed", {"sku": "pretends-to-fail"}, topic=FACTS)

    harness.run_until_idle()

    assert results == []
    [dead] = harness.dead_letters("typed-pricer")
    assert dead.kind == "permanent-error"
    assert (dead.reason or "").startswith("SchemaValidationError: ")
