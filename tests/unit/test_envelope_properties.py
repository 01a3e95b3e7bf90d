"""Round trips of `EventEnvelope`: the wire (dict and JSON) and the `cloudevents` SDK."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from soorma.bus import _ID_NAMESPACE, derived_event_id
from soorma_common import EventEnvelope, EventTopic
from soorma_common.envelope import EXTENSION_WIRE_NAMES, wire_of
from soorma_common.errors import InvalidEnvelopeError, UnknownTopicError
from soorma_common.replies import failure_reply, has_failure_shape

# CloudEvents Strings: no controls (Cc), surrogates (Cs) or noncharacters (among Cn).
text = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=30)
names = st.from_regex(r"\A[a-z][a-z0-9]{0,8}(\.[a-z][a-z0-9_]{0,8}){1,2}\Z")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
topics = st.sampled_from(list(EventTopic))
optional_text = st.none() | text


@st.composite
def envelopes(draw: st.DrawFn) -> EventEnvelope:
    fields: dict[str, Any] = {
        "id": draw(text),
        "source": draw(st.from_regex(r"\Asoorma\.[a-z][a-z0-9-]{0,20}\Z")),
        "type": draw(names),
        "time": draw(times),
        "topic": draw(topics),
        "data": draw(json_values),
        "subject": draw(optional_text),
        "correlation_id": draw(text),
        "response_topic": draw(st.none() | topics),
        "response_event": draw(st.none() | names),
        "hop_count": draw(st.none() | st.integers(0, 2**31 - 1)),
    }
    for name in EXTENSION_WIRE_NAMES:
        if name not in fields and name != "topic":
            fields[name] = draw(optional_text)
    return EventEnvelope(**fields)


@given(envelopes())
def test_wire_round_trip(envelope: EventEnvelope) -> None:
    assert EventEnvelope.from_wire(envelope.to_wire()) == envelope
    assert EventEnvelope.from_json(envelope.to_json()) == envelope


@given(envelopes())
def test_wire_names_are_cloudevents_names(envelope: EventEnvelope) -> None:
    wire = envelope.to_wire()
    for name in wire:
        assert name in {"data", "data_base64"} or (name.isalnum() and name.islower()), name
    assert wire["specversion"] == "1.0"
    assert wire["time"].endswith("Z")


@settings(max_examples=60)
@given(envelopes())
def test_cloudevents_sdk_round_trip(envelope: EventEnvelope) -> None:
    event = envelope.to_cloudevent()
    assert event.get_id() == envelope.id
    assert event.get_extension("correlationid") == envelope.correlation_id
    assert EventEnvelope.from_cloudevent(event) == envelope


@settings(max_examples=60)
@given(envelopes())
def test_cloudevents_sdk_json_format_reads_our_wire_and_writes_it_back(
    envelope: EventEnvelope,
) -> None:
    form = JSONFormat()
    read = form.read(None, envelope.to_json())
    assert read.get_type() == envelope.type
    assert read.get_extension("topic") == envelope.topic.value
    assert EventEnvelope.from_cloudevent(read) == envelope
    assert EventEnvelope.from_json(form.write(envelope.to_cloudevent())) == envelope


@pytest.mark.parametrize(
    ("wire", "fragment"),
    [
        ({"source": "s", "specversion": "1.0", "type": "a.b", "topic": "business-facts"}, "id"),
        ({"id": "1", "specversion": "1.0", "type": "a.b", "topic": "business-facts"}, "source"),
        ({"id": "1", "source": "s", "type": "a.b", "topic": "business-facts"}, "specversion"),
        ({"id": "1", "source": "s", "specversion": "1.0", "topic": "business-facts"}, "type"),
        ({"id": "1", "source": "s", "specversion": "1.0", "type": "a.b"}, "topic"),
        (
            {
                "id": "1",
                "source": "s",
                "specversion": "0.3",
                "type": "a.b",
                "topic": "business-facts",
            },
            "'0.3'",
        ),
        (
            {
                "id": "1",
                "source": "s",
                "specversion": "1.0",
                "type": "a b",
                "topic": "business-facts",
            },
            "white space",
        ),
    ],
)
def test_invalid_wire_envelopes_are_rejected_naming_the_problem(
    wire: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        EventEnvelope.from_wire(wire)


def test_an_unknown_topic_names_the_eight_allowed() -> None:
    wire = {"id": "1", "source": "s", "specversion": "1.0", "type": "a.b", "topic": "orders"}
    with pytest.raises((InvalidEnvelopeError, UnknownTopicError), match="action-requests"):
        EventEnvelope.from_wire(wire)


def test_missing_correlation_id_on_the_wire_is_the_event_id() -> None:
    wire = {
        "id": "e-1",
        "source": "s",
        "specversion": "1.0",
        "type": "a.b",
        "topic": "business-facts",
    }
    assert EventEnvelope.from_wire(wire).correlation_id == "e-1"


def test_unknown_extensions_travel_unchanged() -> None:
    wire = {
        "id": "e-1",
        "source": "s",
        "specversion": "1.0",
        "type": "a.b",
        "topic": "business-facts",
        "partnerref": "x-9",
    }
    assert EventEnvelope.from_wire(wire).to_wire()["partnerref"] == "x-9"


def test_not_an_object_and_not_json_are_rejected() -> None:
    with pytest.raises(InvalidEnvelopeError, match="JSON object"):
        EventEnvelope.from_wire(["a"])
    with pytest.raises(InvalidEnvelopeError, match="not JSON"):
        EventEnvelope.from_json("{nope")


@given(
    st.dictionaries(
        st.sampled_from(["success", "error", "sku"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    )
)
def test_only_the_exact_failure_reply_shape_is_a_failure_reply(data: dict[str, Any]) -> None:
    exact = data.keys() == {"success", "error"} and data["success"] is False
    assert has_failure_shape(data) == (exact and isinstance(data["error"], str))
    assert not has_failure_shape([data])
    assert has_failure_shape(failure_reply("no stock"))
    assert not has_failure_shape({"success": True, "error": "x"})


_OPTIONAL_STRINGS = [
    "subject",
    "datacontenttype",
    "dataschema",
    *(name for name in EXTENSION_WIRE_NAMES if name not in {"topic", "response_topic"}),
]
_payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: both forms must refuse them
    | st.binary(max_size=4)
    | st.text(max_size=5)
    | st.datetimes(timezones=st.just(UTC))
    | st.uuids(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@given(
    event_type=st.text(min_size=0, max_size=12),
    topic=st.sampled_from(list(EventTopic)),
    data=_payloads,
    strings=st.dictionaries(st.sampled_from(_OPTIONAL_STRINGS), st.text(max_size=6), max_size=5),
    response_topic=st.none() | st.sampled_from(list(EventTopic)) | st.text(max_size=4),
    extra=st.none() | st.integers() | st.text(max_size=3),
)
def test_the_direct_wire_form_is_what_the_model_writes(
    event_type: str,
    topic: EventTopic,
    data: Any,
    strings: dict[str, str],
    response_topic: Any,
    extra: Any,
) -> None:
    fields: dict[str, Any] = {"correlation_id": "corr-1", **strings}
    if response_topic is not None:
        fields["response_topic"] = response_topic
    if extra is not None:
        fields["custom"] = extra  # not an attribute wire_of knows: the model must decide
    wire = wire_of("evt-1", "soorma.agent", event_type, topic, data, fields)
    try:
        model = EventEnvelope(
            id="evt-1", source="soorma.agent", type=event_type, topic=topic, data=data, **fields
        )
    except InvalidEnvelopeError:
        assert wire is None  # whatever the model rejects, the direct form declines
        return
    if wire is None:
        return  # declined: the publisher falls back to the model
    expected = model.to_wire()
    expected.pop("time")
    written = dict(wire)
    assert datetime.fromisoformat(written.pop("time")).tzinfo is not None
    assert written == expected
    assert EventEnvelope.from_wire(wire).to_wire() == wire  # and the model reads it unchanged


@given(
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.integers(0, 30),
    st.none() | st.text(max_size=4),
)
def test_derived_ids_are_uuid5_of_agent_parent_replay_and_position(
    agent: str, source: str, parent: str, position: int, replay: str | None
) -> None:
    name = f"{agent}\x1f{source}\x1f{parent}\x1f{replay or ''}\x1f{position}"
    expected = str(uuid.uuid5(_ID_NAMESPACE, name))
    assert derived_event_id(agent, source, parent, position, replay) == expected


#: What a derived id is made of, as the envelope allows it: agent names, sources (RFC 3986
#: characters, `#`, `@` and `%` among them), ids (no control characters, so never `\x1f`).
_SOURCES = st.text("abc.:/#@%-", min_size=1, max_size=6)
_IDS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6)
_PARENTS = st.tuples(
    st.from_regex(r"[a-z][a-z0-9-]{0,5}", fullmatch=True),
    _SOURCES,
    _IDS,
    st.integers(0, 3),
    st.none() | st.from_regex(r"[A-Za-z0-9._-]{1,4}", fullmatch=True),
)


@given(_PARENTS, _PARENTS)
def test_two_derived_ids_are_equal_only_for_the_same_agent_parent_position_and_replay(
    one: tuple[str, str, str, int, str | None], other: tuple[str, str, str, int, str | None]
) -> None:
    """uuid5 collisions aside (SHA-1, not to be found by chance), one name per input tuple:
    its parts are joined by `\x1f`, which no agent name, source, id or replay name holds."""
    assert (derived_event_id(*one) == derived_event_id(*other)) == (one == other)


def test_the_direct_wire_form_declines_a_response_topic_given_by_name() -> None:
    """Found by the property above: a string `response_topic` ('0') was written as is, where
    the model refuses an unknown topic."""
    fields = {"correlation_id": "c", "response_topic": "0"}
    assert wire_of("evt-1", "soorma.agent", "a.b", EventTopic.TASK_EVENTS, None, fields) is None
