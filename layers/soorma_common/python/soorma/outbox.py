"""The stored form of a handler's outgoing events: what its idempotency record keeps, and its size.

The claim's idempotent function returns the outgoing events as a list of strings, one per event:
the base64 of the event's exact EventBridge `Detail` (its UTF-8 bytes). Powertools stores that
list as `json.dumps(result, sort_keys=True)` (ASCII), so the stored form is

    ["<base64>", "<base64>", ...]

and its size is known from the events' UTF-8 sizes alone (`stored_size`), with no encoding at
publish time: base64 text has no character JSON escapes, sorting keys cannot reorder it, and a
redelivery re-sends the very bytes of the first put (`restore`). Base64 costs 4/3 of the UTF-8
size whatever the text (compact JSON in a JSON string would cost 6 bytes per accented letter and
one more per quote), so every event within the PutEvents entry limit fits one record alone.

DynamoDB refuses items over 400 KB (attribute names and values together): the stored list may
take `MAX_STORED_OUTBOX_BYTES`, the rest of the item (key, status, expiry) has 1 KB.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES, OutgoingEvent, encode_event
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import EventTooLargeError, UnreadableClaimError

#: DynamoDB's item size limit (400 KB, attribute names and values together).
DYNAMODB_MAX_ITEM_BYTES = 400 * 1024
#: What the rest of an idempotency item may take: its key (`<function>#<md5>`), `status`,
#: `expiration`, `in_progress_expiration` and the attribute names (well under 300 bytes).
RECORD_OVERHEAD_BYTES = 1024
#: The largest stored form (`json.dumps` of the list) of one handler's outgoing events.
MAX_STORED_OUTBOX_BYTES = DYNAMODB_MAX_ITEM_BYTES - RECORD_OVERHEAD_BYTES

#: The stored form: one base64 string per event, in publish order.
StoredEvents = list[str]


def stored_event_size(detail_size: int) -> int:
    """The bytes one event adds to the stored list: its base64 (`4 * ceil(n / 3)` for `n`
    UTF-8 bytes of `Detail`), two quotes and the `", "` separator of `json.dumps`."""
    return 4 * ((detail_size + 2) // 3) + 4


def stored_size(detail_sizes: Sequence[int]) -> int:
    """The size of `json.dumps(store(events), sort_keys=True)` for events of these `Detail`
    sizes: `[]` and, per event, its base64 in quotes, separated by `", "`."""
    if not detail_sizes:
        return 2
    return sum(stored_event_size(n) for n in detail_sizes)  # brackets = the last separator


def store(events: Sequence[OutgoingEvent]) -> StoredEvents:
    """The stored form of outgoing events (what the idempotent function returns)."""
    return [base64.b64encode(event.detail.encode("utf-8")).decode("ascii") for event in events]


def restore(stored: Sequence[object], key: str) -> list[OutgoingEvent]:
    """The outgoing events of a stored form, each with the exact `Detail` first put.

    Raises `UnreadableClaimError` (permanent) naming the claim `key` when the record holds
    something else (a record written by someone else): an item that is not the base64 of an
    envelope (or, as runtimes before this form stored them, an envelope in wire form), or an
    event EventBridge would refuse as too large: nothing of it is put."""
    events = []
    for position, item in enumerate(stored):
        try:
            event = _restored(item)
        except EventTooLargeError as exc:
            raise UnreadableClaimError(
                f"the idempotency record {key!r} holds an outgoing event (position {position}) "
                f"that cannot be put ({exc}); the record was not written by this runtime: "
                "delete it to handle the event again"
            ) from None
        except (binascii.Error, TypeError, ValueError, KeyError) as exc:
            raise UnreadableClaimError(
                f"the idempotency record {key!r} holds an outgoing event (position {position}) "
                f"that is not base64 of an envelope ({str(exc)[:200]}); the record was not "
                "written by this runtime: delete it to handle the event again"
            ) from None
        events.append(event)
    return events


def _restored(item: object) -> OutgoingEvent:
    """One stored event, checked as an envelope (its `Detail` kept as stored) and measured."""
    if isinstance(item, dict):  # a wire envelope, as runtimes before this form stored them
        EventEnvelope.from_wire(item)
        return encode_event(item, DYNAMODB_MAX_ITEM_BYTES)
    if not isinstance(item, str):
        raise TypeError(f"a {type(item).__name__}")
    raw = base64.b64decode(item, validate=True)
    detail = raw.decode("utf-8")
    wire = json.loads(detail)
    envelope = EventEnvelope.from_wire(wire)
    event = OutgoingEvent(envelope.id, envelope.type, envelope.source, detail, len(raw), wire)
    if event.entry_size > MAX_PUT_EVENTS_REQUEST_BYTES:
        raise EventTooLargeError(
            f"a PutEvents entry of {event.entry_size} bytes, over EventBridge's "
            f"{MAX_PUT_EVENTS_REQUEST_BYTES}-byte limit"
        )
    return event


def check_owned(
    events: Sequence[OutgoingEvent], key: str, source: str, produced: frozenset[str] | None
) -> list[OutgoingEvent]:
    """`events`, if every one is the agent's to put again: its `source` and, when the agent
    declares what it produces, a declared type. Raises `UnreadableClaimError` (permanent)
    otherwise: the record was rewritten by someone else (another agent's role must not make
    this one publish what it never would)."""
    for event in events:
        if event.source != source or (produced is not None and event.type not in produced):
            raise UnreadableClaimError(
                f"the idempotency record {key!r} holds event {event.id!r} of type "
                f"{event.type!r} from {event.source!r}, which agent {source!r} "
                + ("does not declare" if event.source == source else "cannot have published")
                + ": the record was not written by this agent's runtime; nothing is re-put. "
                "Delete the record to handle the event again"
            )
    return list(events)
