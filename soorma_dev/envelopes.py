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


class OutsideSender:
    """`send`, as every harness offers it: one event from outside any agent (`outside_envelope`),
    put on the bus by the harness's own `put_outside`."""

    #: The `source` of events sent without one.
    default_source = "soorma.tests"

    def send(
        self,
        event_type: str,
        data: Any = None,
        *,
        topic: EventTopic | str,
        source: str | None = None,
        **attributes: Any,
    ) -> EventEnvelope:
        """Put one event on the bus from outside any agent; return its envelope.

        `attributes` are envelope attributes by Python name (`tenant_id`, `user_id`,
        `correlation_id` to continue a workflow, ...).
        """
        envelope = outside_envelope(
            event_type, data, topic=topic, source=source or self.default_source, **attributes
        )
        self.put_outside([envelope])
        return envelope

    def put_outside(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Put ready-made envelopes on this harness's bus."""
        raise NotImplementedError


def put_envelopes(
    bus_name: str,
    events_client: Any,
    envelopes: Sequence[EventEnvelope],
    *,
    idempotency_table: str | None = None,
    dynamodb_client: Any = None,
) -> None:
    """Put ready-made envelopes on a bus with a boto3 `events` client, as the SDK's publisher
    does (PutEvents, 10 per call, failed entries retried); no registry check (as `soorma send`).

    A request (on `action-requests`) addressed back to an agent (`reply_to=<agent>`) is recorded
    as that agent's pending request in `idempotency_table` first, as `EventPublisher` does for
    its own requests: the tool sending it (`soorma send --reply-to`, a test harness) acts for
    that agent, whose runtime then accepts the reply."""
    from soorma.config import settings
    from soorma.publishing import EventBridgePublisher, EventBridgeSink, encode_event
    from soorma.requests import DynamoDBPendingRequests, sent_requests

    conf = settings()
    events = [encode_event(envelope.to_wire(), conf.max_event_bytes) for envelope in envelopes]
    if idempotency_table is not None:
        pending = DynamoDBPendingRequests(
            idempotency_table,
            ttl_seconds=conf.idempotency_ttl_seconds,
            dynamodb_client=dynamodb_client,
        )
        for event in events:
            agent = event.wire.get("replyto")
            requests = sent_requests(str(agent), [event.wire]) if agent else []
            if requests:
                pending.record(requests)
    publisher = EventBridgePublisher(bus_name, sink=EventBridgeSink(events_client))
    publisher.put(events)
