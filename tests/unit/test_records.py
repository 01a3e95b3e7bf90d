"""Parsing an SQS record into the delivered event (no AWS needed: the shapes are EventBridge's)."""

from __future__ import annotations

import json

from soorma.runtime.records import parse_record

DETAIL_WITHOUT_TIME = {
    "id": "evt-1",
    "source": "soorma.tests",
    "specversion": "1.0",
    "type": "order.placed",
    "topic": "business-facts",
}


def record(detail: dict[str, object]) -> dict[str, object]:
    body = {
        "version": "0",
        "id": "eb-1",
        "detail-type": "order.placed",
        "source": "soorma.tests",
        "time": "2026-11-27T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    return {"messageId": "m-1", "body": json.dumps(body), "eventSourceARN": "arn:a:b:c:d:q"}


def test_an_envelope_without_time_takes_eventbridges_so_redeliveries_are_identical() -> None:
    first = parse_record(record(DETAIL_WITHOUT_TIME)).envelope
    again = parse_record(record(DETAIL_WITHOUT_TIME)).envelope
    assert first.time == again.time
    assert first.to_wire()["time"].startswith("2026-11-27T10:00:00")


def test_an_envelope_with_time_keeps_its_own() -> None:
    detail = {**DETAIL_WITHOUT_TIME, "time": "2026-01-02T03:04:05Z"}
    assert parse_record(record(detail)).envelope.to_wire()["time"].startswith("2026-01-02T03:04:05")


def test_an_envelope_with_a_null_time_takes_eventbridges_as_an_absent_one() -> None:
    detail = {**DETAIL_WITHOUT_TIME, "time": None}
    first = parse_record(record(detail)).envelope
    again = parse_record(record(detail)).envelope
    assert first.time == again.time
    assert first.to_wire()["time"].startswith("2026-11-27T10:00:00")
