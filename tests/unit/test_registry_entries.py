"""Registry records (pure): who consumes what agrees with the EventBridge rules that deliver it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from soorma.registry import AgentRecord, Catalog, EventRecord
from soorma.registry.entries import ConflictingDefinitionError, from_item, to_item
from soorma_common import EventDefinition, EventTopic
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.routing import pattern_matches, rules_for

segments = st.sampled_from(["order", "orders", "stock", "ticket", "route", "placed", "a"])
event_names = st.lists(segments, min_size=1, max_size=3).map(".".join)
patterns = st.one_of(
    event_names,
    st.just("*"),
    st.lists(segments, min_size=1, max_size=2).map(lambda p: ".".join(p) + ".*"),
)
topics = st.sampled_from([EventTopic.ACTION_REQUESTS, EventTopic.BUSINESS_FACTS])
subscriptions = st.lists(
    st.builds(Subscription, topic=topics, event_type=patterns), min_size=1, max_size=4, unique=True
)


@given(subscriptions, event_names, topics)
def test_consumes_agrees_with_the_rules_eventbridge_evaluates(
    subs: list[Subscription], name: str, topic: EventTopic
) -> None:
    manifest = AgentManifest(name="agent-under-test", kind=AgentKind.AGENT, subscriptions=subs)
    bus_event = {"detail-type": name, "source": "soorma.x", "detail": {"topic": topic.value}}
    delivered = any(pattern_matches(rule.pattern, bus_event) for rule in rules_for(manifest))
    record = AgentRecord.from_manifest(manifest)
    assert record.consumes(name, topic) == delivered


def test_items_round_trip_schemas_exactly() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"type": "number", "minimum": 0.5}},
        "additionalProperties": False,
    }
    event = EventRecord(name="x.done", topic="business-facts", payload_schema=schema)
    item = to_item(event, "2026-01-01T00:00:00+00:00")
    assert item["pk"] == "EVENT#x.done" and item["sk"] == "EVENT" and item["origin"] == "deploy"
    assert from_item(item) == event
    agent = AgentRecord(name="a", kind=AgentKind.WORKER, consumed=["x.done"])
    assert from_item(to_item(agent, "t")) == agent
    assert from_item({"pk": "OTHER#1", "record": "{}"}) is None


def test_one_event_defined_twice_must_agree() -> None:
    first = EventDefinition(event_name="x.done", topic="business-facts", description="one")
    second = EventDefinition(event_name="x.done", topic="business-facts", description="two")
    manifests = [
        AgentManifest(name="a", kind=AgentKind.AGENT, events_produced=[first]),
        AgentManifest(name="b", kind=AgentKind.AGENT, events_consumed=[second]),
    ]
    try:
        Catalog.from_manifests(manifests)
    except ConflictingDefinitionError as error:
        assert "event 'x.done' is defined twice" in str(error)
    else:
        raise AssertionError("a conflicting definition was accepted")


def test_versions_come_from_the_name() -> None:
    v3 = EventDefinition(event_name="order.placed.v3", topic="business-facts")
    assert EventRecord.from_definition(v3).version == 3
    assert (
        EventRecord.from_definition(v3.model_copy(update={"event_name": "order.v2x"})).version == 1
    )
