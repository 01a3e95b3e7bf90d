"""A workflow's status, read from the event log: its events in order, the plans it mentions with
their last status, the failure replies and the dead-lettered events its notices report.

Only the caller's tenant's events are read (the event log stores each event's `tenant_id`); a
workflow with none of them is unknown to the caller, whether it does not exist or belongs to
another tenant (the answer is the same, so it tells nothing about other tenants).
"""

from __future__ import annotations

from typing import Any

from soorma.event_log import logged_items
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import InvalidEnvelopeError
from soorma_common.naming import LOOP_DETECTED_EVENT
from soorma_common.replies import is_failure_reply
from soorma_common.topics import EventTopic

#: The most events one answer lists (`truncated` says when there were more).
MAX_EVENTS = 1000
#: A plan's status by its lifecycle event (`plan.state_changed` may carry its own `status`).
PLAN_STATUS = {
    "plan.started": "running",
    "plan.state_changed": "running",
    "plan.completed": "completed",
    "plan.failed": "failed",
}


def read_workflow(
    dynamodb: Any, table: str, correlation_id: str, tenant_id: str, limit: int = MAX_EVENTS
) -> tuple[list[EventEnvelope], bool]:
    """The tenant's envelopes of one workflow in time order (each once), at most `limit`, and
    whether more were left unread."""
    envelopes: dict[str, EventEnvelope] = {}
    # Eventually consistent (half the read cost): the log is written after the fact anyway.
    items = logged_items(dynamodb, table, correlation_id, tenant_id=tenant_id, consistent=False)
    for item in items:
        if len(envelopes) >= limit:
            return list(envelopes.values()), True
        try:
            envelope = EventEnvelope.from_json(item["envelope"]["S"])
        except (InvalidEnvelopeError, KeyError):
            continue  # the log stores what was on the bus; an unreadable item is skipped
        if envelope.tenant_id == tenant_id:  # the item's attribute and the envelope agree
            envelopes.setdefault(envelope.id, envelope)
    return list(envelopes.values()), False


def workflow_status(
    correlation_id: str, envelopes: list[EventEnvelope], truncated: bool = False
) -> dict[str, Any]:
    """The JSON answer of `GET /workflows/{correlation_id}`."""
    plans: dict[str, dict[str, Any]] = {}
    failed_replies: list[dict[str, Any]] = []
    dead_lettered: list[dict[str, Any]] = []
    for envelope in envelopes:
        data = envelope.data if isinstance(envelope.data, dict) else {}
        plan_id = envelope.plan_id or (data.get("plan_id") if isinstance(data, dict) else None)
        if plan_id and isinstance(plan_id, str):
            plan = plans.setdefault(plan_id, {"plan_id": plan_id, "status": "unknown"})
            if envelope.topic is EventTopic.PLAN_EVENTS and envelope.type in PLAN_STATUS:
                status = data.get("status")
                plan["status"] = (
                    status if isinstance(status, str) and status else PLAN_STATUS[envelope.type]
                )
                plan["updated"] = _time(envelope)
                plan["last_event"] = envelope.type
        if is_failure_reply(envelope.data, envelope):
            failed_replies.append(
                {
                    "id": envelope.id,
                    "type": envelope.type,
                    "source": envelope.source,
                    "causation_id": envelope.causation_id,
                    "error": data.get("error"),
                }
            )
        if envelope.type == LOOP_DETECTED_EVENT and envelope.topic is EventTopic.SYSTEM_EVENTS:
            dead_lettered.append(
                {
                    "event_id": data.get("event_id"),
                    "event_type": data.get("event_type"),
                    "agent": data.get("agent"),
                    "reason": data.get("reason"),
                    "notice_id": envelope.id,
                }
            )
    return {
        "correlation_id": correlation_id,
        "status": overall_status(list(plans.values()), failed_replies, dead_lettered),
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "topic": e.topic.value,
                "source": e.source,
                "time": _time(e),
                "causation_id": e.causation_id,
            }
            for e in envelopes
        ],
        "plans": list(plans.values()),
        "failed_replies": failed_replies,
        "dead_lettered": dead_lettered,
        "truncated": truncated,
    }


def overall_status(
    plans: list[dict[str, Any]], failed: list[dict[str, Any]], dead: list[dict[str, Any]]
) -> str:
    """`failed` when a plan failed, a reply failed or an event was dead-lettered; `completed`
    when it has plans and all completed; else `open` (events alone do not say a workflow ended).
    """
    if failed or dead or any(p["status"] == "failed" for p in plans):
        return "failed"
    if plans and all(p["status"] == "completed" for p in plans):
        return "completed"
    return "open"


def _time(envelope: EventEnvelope) -> str:
    return str(envelope.time.isoformat()).replace("+00:00", "Z")
