"""Runaway loops: the hop limit the runtime enforces, and the notice it publishes when it does.

Every event a handler publishes carries the handled event's hop count plus one (`hopcount` on
the wire; `soorma.bus`); events made outside a handler carry none (0). An agent whose handler
publishes onto a topic it is itself subscribed to (a `*` or prefix subscription) would trigger
itself forever; instead, the runtime dead-letters an event whose hop count is over
`SOORMA_MAX_HOPS` (`LoopDetectedError`, permanent, the reason naming both numbers) and publishes
one `agent.loop_detected` notice on `system-events`, as the agent, in the event's workflow
(correlation, tenant and user kept, `causation_id` = the event's id). The notice carries no hop
count: it starts a new chain, so that its own observers are not refused as part of the loop.
"""

from __future__ import annotations

from soorma.bus import derived_event_id
from soorma.publishing import OutgoingEvent, encode_event
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import LoopDetectedError
from soorma_common.naming import LOOP_DETECTED_EVENT
from soorma_common.topics import EventTopic

#: The type of the notice the runtime publishes on `system-events` when it stops a loop.
LOOP_NOTICE_TYPE = LOOP_DETECTED_EVENT


def loop_error(envelope: EventEnvelope, agent: str, max_hops: int) -> LoopDetectedError | None:
    """The error for an event over the hop limit, or None when it is within it."""
    hops = envelope.hop_count
    if hops is None or hops <= max_hops:
        return None
    return LoopDetectedError(
        f"event {envelope.id!r} ({envelope.type!r} from {envelope.source!r}) has hop count "
        f"{hops}, over the limit of {max_hops} (SOORMA_MAX_HOPS): its causation chain looks like "
        f"a loop, so {agent!r} does not handle it. Look for a handler that publishes onto a topic "
        "it is subscribed to (a '*' or prefix subscription), or raise SOORMA_MAX_HOPS for a "
        "workflow that is really this deep"
    )


def loop_notice(
    agent: str, source: str, envelope: EventEnvelope, error: LoopDetectedError, limit: int
) -> OutgoingEvent:
    """The `agent.loop_detected` notice for a refused event (its id derived from the event's,
    so a repeated notice is a duplicate consumers drop)."""
    notice = EventEnvelope(
        id=derived_event_id(agent, envelope.source, envelope.id, 0, LOOP_NOTICE_TYPE),
        source=source,
        type=LOOP_NOTICE_TYPE,
        topic=EventTopic.SYSTEM_EVENTS,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
        tenant_id=envelope.tenant_id,
        user_id=envelope.user_id,
        data={
            "agent": agent,
            "event_id": envelope.id,
            "event_type": envelope.type,
            "event_source": envelope.source,
            "hop_count": envelope.hop_count,
            "reason": str(error),
        },
    )
    return encode_event(notice.to_wire(), limit)
