"""Failure replies that always fit: a `DomainError`'s text is cut to what one event can carry.

A request handler raising `DomainError` answers with the failure reply `{"success": false,
"error": <its message>}`. A message longer than an event may be (`SOORMA_MAX_EVENT_BYTES`, and
EventBridge's 256 KB per PutEvents entry) would make that reply too large to publish, the request
would be dead-lettered, and its requester would get nothing. Instead the error text is cut so
that the reply fits, measured as the reply is measured (UTF-8 bytes of the JSON-encoded text),
and ends with `… [truncated, N characters]` (N: the characters cut). Text that is no valid
Unicode (a lone surrogate) has those characters replaced first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from soorma.bus import BusClient
from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES, OutgoingEvent
from soorma_common.errors import EventTooLargeError
from soorma_common.replies import failure_reply

#: How a cut error text ends (N: the characters cut).
TRUNCATION_MARK = "… [truncated, {} characters]"
#: Attempts at a smaller text after the measured cut (it fits at the first in practice).
_SHRINKS = 4


def failure_reply_events(
    new_bus: Callable[[], BusClient], send: Callable[[BusClient, Any], None], error: str
) -> list[OutgoingEvent]:
    """The events of the failure reply carrying `error`, sent with `send(bus, data)` on a bus
    from `new_bus()`; the text is cut when the whole of it would not fit one event."""
    text = _encodable(error)
    bus = new_bus()
    if len(text) <= bus.max_event_bytes:  # else it cannot fit: each character is a byte or more
        try:
            send(bus, failure_reply(text))
            return bus.outgoing_events()
        except EventTooLargeError:
            pass
    bare = new_bus()
    send(bare, failure_reply(""))
    events = bare.outgoing_events()
    if not events:
        return events
    room = min(
        bare.max_event_bytes - events[0].size, MAX_PUT_EVENTS_REQUEST_BYTES - events[0].entry_size
    )
    for attempt in range(_SHRINKS + 1):
        bus = new_bus()
        try:
            send(bus, failure_reply(truncated(text, room)))
            return bus.outgoing_events()
        except EventTooLargeError:
            if attempt == _SHRINKS:
                raise
            room //= 2
    raise AssertionError("unreachable")  # pragma: no cover


def truncated(text: str, room: int) -> str:
    """`text` if it takes at most `room` bytes inside a JSON string (UTF-8, escapes counted),
    else its longest prefix that fits with the truncation mark after it ("" if not even the
    mark fits)."""
    if json_text_size(text) <= room:
        return text

    def fits(kept: int) -> bool:
        return json_text_size(cut(text, kept)) <= room

    if not fits(0):
        return ""
    # The size only grows with `kept` (a character more is a byte more; the mark's number loses
    # a digit at most), so the longest prefix is found by bisection, within `room` characters.
    low, high = 0, min(len(text) - 1, max(room, 0))
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return cut(text, low)


def cut(text: str, kept: int) -> str:
    """The first `kept` characters of `text` and the mark naming how many were cut."""
    return text[:kept] + TRUNCATION_MARK.format(len(text) - kept)


def json_text_size(text: str) -> int:
    """The UTF-8 bytes `text` takes inside a JSON string as the envelope encodes it."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def _encodable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
