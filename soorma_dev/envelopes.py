"""Envelopes that enter from outside any agent (`soorma send`, the test harnesses): one builder,
one way to put them on a bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic


def outside_envelope(
    event_type: str,
    data: Any,
    *,
    topic: EventTopic | str,
    source: str,
    tenant_id: str | None = None,
    user_id: str | None = None,
    correlation_id: str | None = None,
    **attributes: Any,
) -> EventEnvelope:
    """A new envelope that starts a workflow (a fresh correlation id) or continues one
    (`correlation_id` given)."""
    if correlation_id is not None:
        attributes["correlation_id"] = correlation_id
    return EventEnvelope(
        source=source,
        type=event_type,
        topic=EventTopic.parse(topic),
        data=data,
        tenant_id=tenant_id,
        user_id=user_id,
        **attributes,
    )


def put_envelopes(bus_name: str, events_client: Any, envelopes: Sequence[EventEnvelope]) -> None:
    """Put ready-made envelopes on a bus with a boto3 `events` client, as the SDK's publisher
    does (PutEvents, 10 per call, failed entries retried); no registry check (as `soorma send`)."""
    from soorma.config import settings
    from soorma.publishing import EventBridgePublisher, EventBridgeSink, encode_event

    limit = settings().max_event_bytes
    publisher = EventBridgePublisher(bus_name, sink=EventBridgeSink(events_client))
    publisher.put([encode_event(envelope.to_wire(), limit) for envelope in envelopes])
