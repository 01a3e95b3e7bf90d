"""A failure reply always fits one event: a `DomainError`'s text is cut, in UTF-8 bytes as the
reply is measured (escapes counted), and ends with `… [truncated, N characters]`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from soorma.bus import BusClient
from soorma.runtime.failure_replies import (
    TRUNCATION_MARK,
    cut,
    failure_reply_events,
    json_text_size,
    truncated,
)
from soorma_common import EventEnvelope, EventTopic
from soorma_common.replies import has_failure_shape

TEXTS = {
    "ascii": "the solver choked: " + "x" * 5_000,
    "accents": "échec: " + "é" * 5_000,  # 2 bytes each
    "euro": "€" * 3_000,  # 3 bytes each
    "emoji": "🙂 " * 2_000,  # 4 + 1 bytes
    "escapes": 'quote " backslash \\ newline \n control \x01 ' * 200,  # 2 to 6 bytes each
    "mixed": ("a" + "é" + "€" + "🙂" + "\n") * 1_000,
}


def request() -> EventEnvelope:
    return EventEnvelope(
        source="soorma.asker",
        type="answer.compute",
        topic=EventTopic.ACTION_REQUESTS,
        data={},
        response_event="answer.computed",
        reply_to="asker",
        tenant_id="acme",
    )


def failure_events(error: str, limit: int) -> list[Any]:
    handled = request()

    def new_bus() -> BusClient:
        return BusClient("solver", "soorma.solver", handled=handled, max_event_bytes=limit)

    def send(bus: BusClient, data: Any) -> None:
        bus.respond("answer.computed", data, correlation_id=handled.correlation_id or "")

    return failure_reply_events(new_bus, send, error)


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("room", [0, 10, 40, 41, 100, 1_001, 4_096])
def test_the_cut_text_is_the_longest_that_fits(name: str, room: int) -> None:
    text = TEXTS[name]
    result = truncated(text, room)
    assert json_text_size(result) <= room
    if result == "":
        assert json_text_size(cut(text, 0)) > room  # not even the mark fits
        return
    match = re.fullmatch(r"(?s).*… \[truncated, (\d+) characters\]", result)
    assert match is not None
    kept = len(text) - int(match.group(1))
    assert result == text[:kept] + TRUNCATION_MARK.format(len(text) - kept)
    assert json_text_size(cut(text, kept + 1)) > room  # one character more would not fit


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_text_that_fits_is_kept_whole(name: str) -> None:
    text = TEXTS[name]
    assert truncated(text, json_text_size(text)) == text


def test_the_size_counts_utf8_bytes_and_json_escapes() -> None:
    assert json_text_size("abc") == 3
    assert json_text_size("é") == 2 and json_text_size("€") == 3 and json_text_size("🙂") == 4
    assert json_text_size('"') == 2 and json_text_size("\\") == 2 and json_text_size("\x01") == 6
    text = TEXTS["mixed"]
    detail = json.dumps({"error": text}, ensure_ascii=False, separators=(",", ":"))
    assert json_text_size(text) == len(detail.encode()) - len('{"error":""}')


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("limit", [1_500, 4_000])
def test_a_failure_reply_over_the_limit_is_cut_to_fit_it(name: str, limit: int) -> None:
    text = TEXTS[name]
    [event] = failure_events(text, limit)
    assert event.size <= limit
    assert len(event.detail.encode("utf-8")) == event.size  # measured in UTF-8 bytes
    data = json.loads(event.detail)["data"]
    assert has_failure_shape(data)
    assert data["error"].endswith(" characters]") and "… [truncated, " in data["error"]
    kept = data["error"][: data["error"].rindex("… [truncated, ")]
    assert text.startswith(kept) and len(kept) > 0
    assert event.size > limit - 20  # cut where it stops fitting, not far before


def test_a_failure_reply_that_fits_is_sent_whole() -> None:
    [event] = failure_events("out of stock: " + "é" * 100, 4_000)
    assert json.loads(event.detail)["data"]["error"] == "out of stock: " + "é" * 100


def test_a_huge_error_at_the_default_limit_fits_the_event_and_the_putevents_entry() -> None:
    limit = 256 * 1024
    for text in ("x" * 300_000, "é" * 200_000, "🙂" * 100_000):
        [event] = failure_events(text, limit)
        assert event.size <= limit and event.entry_size < 256 * 1024
        assert json.loads(event.detail)["data"]["error"].startswith(text[:1_000])


def test_an_error_text_with_a_lone_surrogate_still_makes_a_reply() -> None:
    [event] = failure_events("bad \ud800 text", 4_000)
    assert json.loads(event.detail)["data"]["error"] == "bad ? text"
    [event] = failure_events("\ud800" * 10_000, 4_000)
    assert event.size <= 4_000
