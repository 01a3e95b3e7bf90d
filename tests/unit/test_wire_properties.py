"""Properties of the wire contract over random envelopes (issue 10).

Valid envelopes (unicode, nested and large data, binary data, foreign extensions) survive wire
-> model -> wire -> `cloudevents` SDK and back unchanged; and whatever the envelope refuses, from
the wire or from keywords, it refuses as `InvalidEnvelopeError` naming the attribute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soorma_common import EventEnvelope, EventTopic
from soorma_common.envelope import EXTENSION_WIRE_NAMES
from soorma_common.errors import InvalidEnvelopeError

# CloudEvents Strings: no controls (Cc), surrogates (Cs) or noncharacters (within Cn).
ce_text = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=40)
event_types = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
sources = st.from_regex(r"\A[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,60}\Z")
big_text = st.integers(0, 120_000).map(lambda n: "é😀a"[n % 3] * n)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_data = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
data = json_data | big_text | st.binary(max_size=2048)
foreign_extensions = st.dictionaries(
    st.from_regex(r"\A[a-z0-9]{1,20}\Z").filter(
        lambda name: name not in set(EXTENSION_WIRE_NAMES.values()) | _CORE
    ),
    st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), max_size=20),
    max_size=3,
)
_CORE = {"id", "source", "specversion", "type", "time", "subject", "datacontenttype"}
_CORE |= {"dataschema", "data"}
topics = st.sampled_from([t.value for t in EventTopic])


@st.composite
def wire_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid structured-mode envelope as a producer in any language would write it."""
    time = draw(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)))
    wire: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(ce_text),
        "source": draw(sources),
        "type": draw(event_types),
        "time": time.isoformat().replace("+00:00", "Z"),  # as pydantic writes it
        "topic": draw(topics),
        "correlationid": draw(ce_text),
    }
    for name in ("subject", "causationid", "tenantid", "userid", "sessionid", "replyto"):
        if draw(st.booleans()):
            wire[name] = draw(ce_text)
    if draw(st.booleans()):
        wire["responseevent"] = draw(event_types)
        wire["responsetopic"] = draw(topics)
    if draw(st.booleans()):
        wire["dataschema"] = "https://schemas.example.com/" + draw(st.from_regex(r"\A[a-z]{1,9}\Z"))
    payload = draw(data)
    if isinstance(payload, bytes):
        wire["data_base64"] = EventEnvelope(
            source="s", type="a.b", topic="system-events", data=payload
        ).to_wire()["data_base64"]
        wire["datacontenttype"] = "application/octet-stream"
    else:
        wire["datacontenttype"] = "application/json"
        if payload is not None:  # a JSON null is an absent attribute
            wire["data"] = payload
    wire.update(draw(foreign_extensions))
    return wire


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(wire_envelopes())
def test_valid_envelopes_round_trip_through_the_wire_and_the_cloudevents_sdk(
    wire: dict[str, Any],
) -> None:
    model = EventEnvelope.from_wire(wire)
    assert model.to_wire() == wire  # nothing lost, nothing invented, same spelling
    assert EventEnvelope.from_json(model.to_json()) == model
    sdk_read = JSONFormat().read(None, model.to_json())  # the official SDK reads our JSON
    assert EventEnvelope.from_cloudevent(sdk_read) == model
    sdk_written = JSONFormat().write(model.to_cloudevent())  # and we read what it writes
    assert EventEnvelope.from_json(sdk_written) == model


hostile_text = st.text(max_size=12)  # control characters, surrogates and empty included
hostile = (
    hostile_text
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.floats(), max_size=2)
    | st.sampled_from(["", " ", "a b", "x" * 200, "1.0", "business-facts", "QUJD", "a.b"])
)
wire_names = st.sampled_from(
    [*sorted(_CORE), "topic", "data_base64", *EXTENSION_WIRE_NAMES.values()]
) | st.from_regex(r"\A[A-Za-z0-9_]{1,8}\Z")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(wire_envelopes(), wire_names, hostile)
def test_whatever_the_wire_refuses_is_an_invalid_envelope_naming_the_attribute(
    wire: dict[str, Any], name: str, value: Any
) -> None:
    wire = {**wire, name: value}
    if name == "data_base64":
        wire.pop("data", None)
    try:
        model = EventEnvelope.from_wire(wire)
    except InvalidEnvelopeError as exc:
        assert name in str(exc), (name, str(exc))
        return
    assert EventEnvelope.from_wire(model.to_wire()) == model


python_names = st.sampled_from(
    ["id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "data"]
    + [name for name in EXTENSION_WIRE_NAMES]
) | st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z")


@settings(max_examples=400)
@given(python_names, hostile)
def test_whatever_a_publisher_passes_is_accepted_or_refused_naming_the_keyword(
    name: str, value: Any
) -> None:
    attributes: dict[str, Any] = {"source": "soorma.shop", "type": "order.placed"}
    attributes["topic"] = "business-facts"
    attributes[name] = value
    try:
        model = EventEnvelope(**attributes)
    except InvalidEnvelopeError as exc:
        assert name in str(exc), (name, str(exc))
        return
    assert EventEnvelope.from_json(model.to_json()) == model
