"""The wire contract per CloudEvents 1.0.2 (issue 10): each defect found against the spec, the
official JSON format and the `cloudevents` SDK, checked through the public interfaces."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat

from soorma import Agent
from soorma.bus import BusClient
from soorma_common import EventDefinition, EventEnvelope, EventTopic, Subscription
from soorma_common.envelope import encode_wire, wire_of
from soorma_common.errors import InvalidEnvelopeError, InvalidEventTypeError, PermanentError
from soorma_common.naming import check_event_pattern, check_event_type

FACTS = EventTopic.BUSINESS_FACTS
HANDLED = EventEnvelope(
    id="evt-1",
    source="soorma.upstream",
    type="job.requested",
    topic="action-requests",
    correlation_id="corr-1",
    tenant_id="acme",
)


def wire(**attributes: Any) -> dict[str, Any]:
    """A minimal valid wire envelope, with `attributes` added (None values kept as null)."""
    return {
        "id": "e-1",
        "source": "shop.orders-api",
        "specversion": "1.0",
        "type": "order.placed",
        "topic": "business-facts",
        **attributes,
    }


def envelope(**attributes: Any) -> EventEnvelope:
    return EventEnvelope(
        **{"source": "soorma.shop", "type": "order.placed", "topic": FACTS, **attributes}
    )


def in_handler() -> BusClient:
    return BusClient("worker", "soorma.worker", handled=HANDLED)


def outside() -> BusClient:
    return BusClient("worker", "soorma.worker")


# ---- unknown attributes ------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["order_ref", "Priority", "sesion_id", "data_base64"])
def test_an_unknown_keyword_is_refused_naming_the_allowed_attributes(keyword: str) -> None:
    with pytest.raises(InvalidEnvelopeError, match=rf"unknown .*{keyword}.*session_id") as raised:
        envelope(**{keyword: "x"})
    assert isinstance(raised.value, PermanentError)


@pytest.mark.parametrize("client", [in_handler, outside], ids=["in a handler", "outside"])
def test_publish_refuses_a_typo_instead_of_putting_it_on_the_wire(client: Any) -> None:
    bus = client()
    with pytest.raises(InvalidEnvelopeError, match="sesion_id"):
        bus.publish(FACTS, "order.noted", {"n": 1}, sesion_id="s-1")
    with pytest.raises(InvalidEnvelopeError, match="order_ref"):
        bus.publish(FACTS, "order.noted", {"n": 1}, order_ref="o-1")
    assert bus.wire_events() == []


def test_extensions_by_python_or_wire_name_are_accepted() -> None:
    assert envelope(tenantid="acme").tenant_id == envelope(tenant_id="acme").tenant_id == "acme"


def test_a_foreign_extension_from_the_wire_is_kept_with_its_type_and_reaches_the_sdk() -> None:
    read = EventEnvelope.from_wire(wire(partnerref="x-9", priority=3, urgent=True))
    assert {k: read.to_wire()[k] for k in ("partnerref", "priority", "urgent")} == {
        "partnerref": "x-9",
        "priority": 3,
        "urgent": True,
    }
    event = read.to_cloudevent()
    assert event.get_extension("priority") == 3
    assert EventEnvelope.from_json(JSONFormat().write(event)) == read


@pytest.mark.parametrize(
    ("extension", "fragment"),
    [
        ({"order_ref": "x"}, "'order_ref' is not a CloudEvents attribute name"),
        ({"Priority": "1"}, "'Priority' is not a CloudEvents attribute name"),
        ({"meta": {"a": 1}}, "meta: an extension's value must be a string, a boolean"),
        ({"tags": ["a"]}, "tags: an extension's value"),
        ({"score": 1.5}, "score: an extension's value"),
        ({"big": 2**31}, "big: an extension's value .* 32-bit integer"),
        ({"note": "a\x07b"}, "note: must be a CloudEvents String"),
    ],
)
def test_a_foreign_extension_with_a_bad_name_or_value_is_refused(
    extension: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        EventEnvelope.from_wire(wire(**extension))


# ---- attribute values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"subject": ""}, "subject: must not be empty"),
        ({"dataschema": "schemas/order.json"}, "dataschema: must be an absolute URI"),
        ({"dataschema": "https://x.example/a b"}, "dataschema: must be an absolute URI"),
        ({"datacontenttype": "json"}, "datacontenttype: must be a media type"),
        ({"source": "my service"}, "source: must be a URI-reference"),
        ({"id": ""}, "id: must not be empty"),
        ({"id": "e\x00"}, "id: must be a CloudEvents String"),
        ({"subject": "line\nbreak"}, "subject: must be a CloudEvents String"),
        ({"tenant_id": "acme\x1b"}, "tenant_id: must be a CloudEvents String"),
        ({"user_id": "u\x85"}, "user_id: must be a CloudEvents String"),
        ({"session_id": "s\ufffe"}, "session_id: must be a CloudEvents String"),
        ({"trace_id": "t\ud800"}, "trace_id: must be valid Unicode"),
        ({"causation_id": ""}, "causation_id: must not be empty"),
        ({"response_event": "order done"}, "response_event: invalid event type 'order done'"),
    ],
)
def test_attribute_values_outside_the_cloudevents_type_system_are_refused(
    attributes: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        envelope(**attributes)


def test_the_same_values_are_refused_on_the_wire_under_their_wire_names() -> None:
    for attributes, fragment in [
        ({"subject": ""}, "subject"),
        ({"dataschema": "order.json"}, "dataschema"),
        ({"tenantid": "a\x00"}, "tenantid"),
        ({"responseevent": "a\tb"}, "responseevent"),
    ]:
        with pytest.raises(InvalidEnvelopeError, match=fragment):
            EventEnvelope.from_wire(wire(**attributes))


def test_valid_uris_media_types_and_unicode_strings_are_accepted() -> None:
    read = envelope(
        dataschema="https://schemas.example.com/order.json#/v2",
        datacontenttype="application/cloudevents+json; charset=utf-8",
        subject="commande é 😀",
        source="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    )
    assert EventEnvelope.from_wire(read.to_wire()) == read


def test_null_attributes_on_the_wire_mean_absent() -> None:
    read = EventEnvelope.from_wire(wire(time=None, subject=None, tenantid=None, data=None))
    assert read.subject is None and read.tenant_id is None
    assert read.time.tzinfo is not None  # absent time: the receiver's clock, as documented
    with pytest.raises(InvalidEnvelopeError, match=r"missing required attribute.*id"):
        EventEnvelope.from_wire(wire(id=None))


def test_a_time_that_is_not_a_timestamp_string_is_refused() -> None:
    with pytest.raises(InvalidEnvelopeError, match="time: must be an RFC 3339"):
        EventEnvelope.from_wire(wire(time=1767225600))


# ---- binary data -----------------------------------------------------------------------------


def test_bytes_data_is_written_as_data_base64_with_a_binary_content_type() -> None:
    payload = bytes(range(256))
    written = envelope(data=payload).to_wire()
    assert "data" not in written
    assert base64.b64decode(written["data_base64"]) == payload
    assert written["datacontenttype"] == "application/octet-stream"
    read = EventEnvelope.from_json(envelope(data=payload).to_json())
    assert read.data == payload


def test_data_base64_from_the_wire_is_decoded_for_the_handler() -> None:
    read = EventEnvelope.from_wire(wire(data_base64="AP8=", datacontenttype="image/png"))
    assert read.data == b"\x00\xff"
    assert read.datacontenttype == "image/png"


def test_the_cloudevents_sdk_reads_our_binary_data_and_we_read_its() -> None:
    ours = envelope(data=b"\x00\x01binary")
    theirs = JSONFormat().read(None, ours.to_json())
    assert theirs.get_data() == b"\x00\x01binary"
    assert EventEnvelope.from_json(JSONFormat().write(theirs)) == ours


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"data_base64": "AA==", "data": {"a": 1}}, "never both"),
        ({"data_base64": "not base64!"}, "data_base64: must be base64"),
        ({"data_base64": 12}, "data_base64: must be base64"),
    ],
)
def test_bad_data_base64_is_refused(attributes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        EventEnvelope.from_wire(wire(**attributes))


# ---- JSON data ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_at_publish_naming_data(value: float) -> None:
    data = {"scores": [1.0, {"x": value}]}
    with pytest.raises(InvalidEnvelopeError, match=r"data: holds .*not JSON"):
        envelope(data=data)
    assert wire_of("e-1", "soorma.a", "a.b", FACTS, data, {"correlation_id": "c"}) is None
    for bus in (in_handler(), outside()):
        with pytest.raises(InvalidEnvelopeError, match="data"):
            bus.publish(FACTS, "score.computed", data)
        assert bus.wire_events() == []


def test_nan_from_a_wire_parsed_leniently_is_refused() -> None:
    parsed = json.loads('{"v": NaN}')  # Python's json accepts it; the JSON format does not
    with pytest.raises(InvalidEnvelopeError, match="data: holds nan"):
        EventEnvelope.from_wire(wire(data=parsed))


def test_encoded_detail_is_strict_json() -> None:
    with pytest.raises(InvalidEnvelopeError, match="not valid JSON"):
        encode_wire(wire(data={"v": math.nan}))
    assert "NaN" not in envelope(data={"v": 1.5}).to_json()


def test_data_that_cannot_be_json_is_refused_naming_data() -> None:
    with pytest.raises(InvalidEnvelopeError, match="data: cannot be written as JSON"):
        envelope(data={"handle": object()})


# ---- event names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("order placed", "white space ' '"),
        ("order.\tplaced", "white space '\\\\t'"),
        ("x" * 129, "129 characters, over the 128"),
        ("", "it is empty"),
        (".order", "starts with '.'"),
        ("order.*", r"contains '\*'"),
        ("commande.passée", "contains 'é'"),
    ],
)
def test_invalid_event_types_are_refused_everywhere_with_the_rule(name: str, fragment: str) -> None:
    with pytest.raises(InvalidEventTypeError, match=fragment):
        check_event_type(name)
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        envelope(type=name)
    with pytest.raises(ValueError, match=fragment):
        EventDefinition(event_name=name, topic=FACTS)
    with pytest.raises(InvalidEnvelopeError, match="invalid event type"):
        in_handler().publish(FACTS, name, {})


@pytest.mark.parametrize("name", ["order placed", "a\tb", "x" * 300, "order.*.paid", "*.x", ".*"])
def test_on_event_refuses_invalid_names_and_patterns(name: str) -> None:
    agent = Agent("strict")
    with pytest.raises(ValueError, match=r"invalid (event type|subscription pattern)"):
        agent.on_event(name, topic=FACTS)
    with pytest.raises(ValueError, match="invalid"):
        Subscription(topic=FACTS, event_type=name)


def test_valid_names_and_patterns_up_to_the_limit_are_accepted() -> None:
    longest = "a" * 128
    assert check_event_type(longest) == longest
    assert envelope(type=longest).type == longest
    for pattern in ("*", "order.*", "com.example.order_v2.*", "order.placed", "a" * 126 + ".*"):
        assert check_event_pattern(pattern) == pattern
        assert Subscription(topic=FACTS, event_type=pattern).event_type == pattern
    with pytest.raises(InvalidEventTypeError):
        check_event_pattern("a" * 127 + ".*")  # no type of at most 128 characters could match


def test_declared_produced_names_are_checked() -> None:
    with pytest.raises(ValueError, match="invalid event type 'bad name'"):
        Agent("declares", events_produced=["bad name"]).manifest()


# ---- the two construction paths --------------------------------------------------------------


def test_keywords_and_the_wire_take_different_paths() -> None:
    # Keywords are checked for typos; the wire keeps valid foreign extensions. If pydantic ever
    # routes model_validate through __init__, the second assertion fails.
    with pytest.raises(InvalidEnvelopeError, match="partnerref"):
        envelope(partnerref="x")
    assert EventEnvelope.from_wire(wire(partnerref="x")).model_extra == {"partnerref": "x"}


def test_the_dead_size_helper_is_gone() -> None:
    assert not hasattr(EventEnvelope, "size_bytes")
