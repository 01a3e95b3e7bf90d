"""`parse_record` reads the usual SQS body in one validation pass of its JSON text; whatever the
body, the outcome must be the one of parsing it in steps (the JSON, then `EventEnvelope.from_wire`
of its `detail`): the same envelope and EventBridge attributes, or the same permanent error."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soorma.runtime import records
from soorma.runtime.records import EVENTBRIDGE_ATTRIBUTES, parse_record
from soorma_common import EventEnvelope
from soorma_common.errors import ForgedSourceError, MalformedRecordError, PermanentError

WIRE = {
    "id": "evt-1",
    "source": "soorma.shop",
    "specversion": "1.0",
    "type": "order.placed",
    "topic": "business-facts",
    "time": "2026-12-04T08:00:00Z",
    "correlationid": "corr-1",
    "datacontenttype": "application/json",
    "data": {"order": "o-1", "total": 3},
    "tenantid": "acme",
    "userid": "u-1",
}


def body_of(detail: Any, **outer: Any) -> str:
    event = {
        "version": "0",
        "id": "eb-1",
        "detail-type": "order.placed",
        "source": "soorma.shop",
        "account": "123456789012",
        "time": "2026-12-04T08:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **outer,
    }
    return json.dumps(event)  # NaN and Infinity written as JavaScript's, as a careless producer


def by_steps(body: str) -> tuple[dict[str, Any], EventEnvelope]:
    """The reference: the body's JSON, then `from_wire` of its detail (EventBridge's `time`
    when the detail's is absent or null), then the two checks of the EventBridge attributes."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRecordError(str(exc)) from None
    if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= event.keys():
        raise MalformedRecordError("not an EventBridge event")
    detail = event["detail"]
    if isinstance(detail, dict) and detail.get("time") is None and event.get("time"):
        detail = {**detail, "time": event["time"]}
    envelope = EventEnvelope.from_wire(detail)
    if envelope.source != event["source"]:
        raise ForgedSourceError("forged")
    if envelope.type != event["detail-type"]:
        raise MalformedRecordError("detail-type")
    return {k: event[k] for k in EVENTBRIDGE_ATTRIBUTES if k in event}, envelope


def outcome(parse: Any, body: str) -> tuple[str, Any]:
    try:
        eventbridge, envelope = parse(body)
    except PermanentError as exc:
        return "refused", type(exc).__name__
    return "taken", (eventbridge, envelope.model_dump(), envelope.__pydantic_extra__)


def parsed(body: str) -> tuple[dict[str, Any], EventEnvelope]:
    delivered = parse_record({"messageId": "m-1", "body": body})
    return delivered.eventbridge, delivered.envelope


texts = st.one_of(
    st.sampled_from(["", "x", "évé", "a\u0000b", "\u0085", "\ufdd0", "soorma.shop", "o.p"]),
    st.text(max_size=8),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
#: Wire attributes a careless producer gets wrong, and values it puts there.
ATTRIBUTE_VALUES = {
    "id": st.one_of(values, st.just("evt-1")),
    "source": st.one_of(values, st.just("soorma.shop"), st.just("soorma.other")),
    "specversion": st.one_of(values, st.just("1.0"), st.just("0.3")),
    "type": st.one_of(values, st.just("order.placed"), st.just("Order Placed")),
    "topic": st.one_of(values, st.just("business-facts"), st.just("action-results")),
    "time": st.one_of(
        values,
        st.sampled_from(
            [
                "2026-12-04T08:00:00Z",
                "2026-12-04T10:00:00+02:00",
                "2026-12-04T08:00:00",
                "2026-12-04",
                "2026-12-04T08:00:00.123456789Z",
                "not a time",
            ]
        ),
    ),
    "correlationid": values,
    "datacontenttype": st.one_of(values, st.just("application/json"), st.just("text/plain")),
    "data": values,
    "data_base64": st.one_of(values, st.just("aGk=")),
    "hopcount": values,
    "deadline": values,
    "subject": values,
    "responsetopic": st.one_of(values, st.just("action-results")),
    "sessionid": values,
    "myextension": values,
    "Bad-Name": values,
}


@st.composite
def details(draw: st.DrawFn) -> dict[str, Any]:
    detail = dict(WIRE)
    for name in draw(st.lists(st.sampled_from(sorted(ATTRIBUTE_VALUES)), max_size=4)):
        if draw(st.booleans()):
            detail[name] = draw(ATTRIBUTE_VALUES[name])
        else:
            detail.pop(name, None)
    return detail


@settings(max_examples=400, deadline=None)
@given(details(), st.sampled_from([{}, {"source": "soorma.other"}, {"detail-type": "x.y"}]))
def test_the_one_pass_takes_and_refuses_what_the_steps_do(detail: dict[str, Any], outer) -> None:
    body = body_of(detail, **outer)
    assert outcome(parsed, body) == outcome(by_steps, body)


@pytest.mark.parametrize(
    "text",
    [
        '"\\ud800"',  # a lone surrogate escape: JSON text Python reads, EventBridge never sends
        "NaN",
        "-Infinity",
        "1e400",
        "123456789012345678901234567890",
        "-0",
        "[" * 150 + "1" + "]" * 150,  # deeper than the one pass reads (it leaves it to the steps)
        "[" * 900 + "1" + "]" * 900,
        "[" * 5000 + "1" + "]" * 5000,  # deeper than Python's JSON parser reads: refused
        '{"a": 1, "a": 2}',  # duplicate names: the last one, as Python's JSON
    ],
)
def test_data_the_two_json_parsers_could_read_apart_is_read_as_the_steps_do(text: str) -> None:
    body = body_of({**WIRE, "data": "PLACEHOLDER"}).replace('"PLACEHOLDER"', text)
    assert outcome(parsed, body) == outcome(by_steps, body)


def test_duplicate_envelopes_in_one_body_are_read_as_the_steps_read_them() -> None:
    body = body_of(WIRE)[:-1] + ', "detail": ' + json.dumps({**WIRE, "id": "evt-2"}) + "}"
    assert outcome(parsed, body) == outcome(by_steps, body)
    assert parsed(body)[1].id == "evt-2"


def test_the_usual_body_takes_the_one_pass() -> None:
    """The fast path must stay in use for what producers send (a regression would only show as
    time in benchmarks/runtime_overhead.py)."""
    taken = records._parsed_in_one_pass(body_of(WIRE))
    assert taken is not None
    eventbridge, envelope = taken
    assert eventbridge == {
        "source": "soorma.shop",
        "detail-type": "order.placed",
        "time": "2026-12-04T08:00:01Z",
    }
    assert envelope == EventEnvelope.from_wire(WIRE)
    assert not math.isnan(parse_record({"body": body_of(WIRE)}).age_seconds() or 0.0)
