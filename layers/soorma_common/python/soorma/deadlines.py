"""Request deadlines: a one-time EventBridge Scheduler schedule per request sent with `timeout=`.

`bus.request(..., timeout=30)` writes the request's `deadline` (an RFC 3339 UTC time) on the
wire. When the runtime flushes the request it records it (`soorma.requests`) and creates a
schedule `at(<deadline>)` whose target puts the *timeout reply* on the bus: the request's
`response_event`, from `soorma.platform`, addressed to the requester (`replyto`), caused by the
request, with data `{"success": false, "error": "timeout"}`. The schedule deletes itself after
it fires (`ActionAfterCompletion: DELETE`).

The reply and the timeout race; one conditional write on the pending request decides which is
delivered (`PendingRequests.decide`), so the requester's result handler sees exactly one of
them, whatever the order or the timing. The loser is acknowledged and logged, never delivered.
A schedule is not deleted when the reply wins: the timeout it puts is refused by that write
(one Scheduler invocation, $1 per million, instead of a DeleteSchedule call per reply).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from soorma_common.envelope import EventEnvelope
from soorma_common.errors import InvalidEnvelopeError
from soorma_common.naming import DEADLINE_SCHEDULE_PREFIX
from soorma_common.naming import PLATFORM_SOURCE as TIMEOUT_SOURCE
from soorma_common.replies import failure_reply

#: The error of a timeout reply.
TIMEOUT_ERROR = "timeout"
#: How the wire writes a deadline (Scheduler's `at()` takes it without the `Z`).
DEADLINE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: The one spelling of a deadline accepted: every field zero-padded, whole seconds, `Z`
#: (`strptime` alone also takes `2026-1-3T7:30:0Z`, which Scheduler's `at()` refuses).
DEADLINE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
#: How long a pending request with a deadline outlives it (`soorma.requests`): Scheduler fires
#: up to 59 s after the deadline and retries a failed put for up to 24 hours (its default retry
#: policy), and the timeout reply may then wait on the requester's queue (redeliveries, a
#: consumer down): two days, so that the timeout always finds its pending request.
DEADLINE_MARGIN_SECONDS = 2 * 86_400
_NAMESPACE = uuid.UUID("0d5c1f44-5e0b-4f0a-9a3c-2f6c5b1d7e21")


def deadline_after(timeout: float, *, now: datetime | None = None, most: float) -> str:
    """The deadline `timeout` seconds from now, as the wire carries it (`...Z`, whole seconds:
    Scheduler's `at()` has one-second resolution). `InvalidEnvelopeError` outside (0, most],
    or for a bool (`timeout=True` is no number of seconds)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= most:
        raise InvalidEnvelopeError(
            f"timeout must be more than 0 and at most {most:g} seconds (the pending request's "
            f"lifetime), got {timeout!r}"
        )
    at = (now or datetime.now(UTC)) + timedelta(seconds=timeout)
    rounded = at.replace(microsecond=0) + timedelta(seconds=1 if at.microsecond else 0)
    return rounded.strftime(DEADLINE_FORMAT)


def deadline_time(deadline: str) -> datetime:
    """The UTC time a wire deadline (`DEADLINE_FORMAT`) names; `ValueError` for other text."""
    return datetime.strptime(deadline, DEADLINE_FORMAT).replace(tzinfo=UTC)


def check_deadline(value: Any, *, most: float | None = None, now: datetime | None = None) -> str:
    """`value` if it is a deadline as the wire carries it (exactly `YYYY-MM-DDTHH:MM:SSZ`: every
    field zero-padded, whole seconds, UTC) and, given `most` (the pending request's lifetime,
    `SOORMA_IDEMPOTENCY_TTL_SECONDS`), at most `most` seconds from now (one more second for the
    rounding of `deadline_after`); else `InvalidEnvelopeError` (set deadlines with
    `request(..., timeout=)`). A deadline in the past passes: it fires at once."""
    try:
        if not isinstance(value, str) or not DEADLINE_PATTERN.fullmatch(value):
            raise ValueError(value)
        at = deadline_time(value)
    except (TypeError, ValueError):
        raise InvalidEnvelopeError(
            f"deadline {str(value)[:60]!r} is not a UTC time like 2026-12-03T07:30:00Z (exactly "
            "YYYY-MM-DDTHH:MM:SSZ, every field zero-padded, whole seconds): give "
            "request(..., timeout=seconds) instead"
        ) from None
    if most is not None and at > (now or datetime.now(UTC)) + timedelta(seconds=most + 1):
        raise InvalidEnvelopeError(
            f"deadline {value!r} is more than {most:g} seconds from now, past the pending "
            "request's lifetime (SOORMA_IDEMPOTENCY_TTL_SECONDS): its timeout reply would find "
            "no request to answer. Give request(..., timeout=seconds) of at most that"
        )
    return value


def not_in_the_past(deadline: str, *, now: datetime | None = None) -> str:
    """`deadline`, or a few seconds from now when it has passed (a request flushed again after
    its deadline): Scheduler may refuse a one-time schedule in the past."""
    soonest = (now or datetime.now(UTC)) + timedelta(seconds=5)
    at = deadline_time(deadline)
    return deadline if at >= soonest else soonest.strftime(DEADLINE_FORMAT)


def timeout_reply(request: Mapping[str, Any]) -> dict[str, Any]:
    """The timeout reply to a request (wire form of both): its id is derived from the request,
    so however often it is put, it is one event."""
    request_id = str(request["id"])
    requester = str(request["replyto"])
    return EventEnvelope(
        id=str(uuid.uuid5(_NAMESPACE, f"{requester}:{request_id}")),
        source=TIMEOUT_SOURCE,
        type=request["responseevent"],
        time=request["deadline"],
        data=failure_reply(TIMEOUT_ERROR),
        topic=request.get("responsetopic") or "action-results",
        correlation_id=request.get("correlationid") or request_id,
        causation_id=request_id,
        reply_to=requester,
        hop_count=int(request.get("hopcount") or 0) + 1,
        tenant_id=request.get("tenantid"),
        user_id=request.get("userid"),
        session_id=request.get("sessionid"),
        plan_id=request.get("planid"),
        trace_id=request.get("traceid"),
    ).to_wire()


def is_timeout_reply(data: Any) -> bool:
    """Whether a reply's data is the timeout reply's."""
    return bool(data == failure_reply(TIMEOUT_ERROR))


def schedule_name(requester: str, request_id: str) -> str:
    """A schedule's name: unique per request, within Scheduler's 64 characters."""
    digest = hashlib.sha256(f"{requester}:{request_id}".encode()).hexdigest()[:40]
    return f"{DEADLINE_SCHEDULE_PREFIX}{digest}"


def requests_with_deadlines(wires: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The requests (with `replyto` and `responseevent`) among outgoing events that carry a
    deadline."""
    return [w for w in wires if w.get("deadline") and w.get("replyto") and w.get("responseevent")]


class Deadlines(Protocol):
    """Where deadlines are set (one schedule per request; setting one twice is harmless)."""

    def schedule(self, requests: Iterable[Mapping[str, Any]]) -> None:
        """Set the deadline of each request (wire form)."""
        ...


class SchedulerDeadlines:
    """Deadlines as EventBridge Scheduler one-time schedules putting the timeout on the bus."""

    def __init__(
        self, *, bus_arn: str, role_arn: str, group: str = "default", client: Any = None
    ) -> None:
        self.bus_arn = bus_arn
        self.role_arn = role_arn
        self.group = group
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 `scheduler` client (default: the process's)."""
        if self._client is None:
            from soorma import clients

            self._client = clients.client("scheduler")
        return self._client

    def schedule(self, requests: Iterable[Mapping[str, Any]]) -> None:
        """One `CreateSchedule` per request; an existing one (a re-flush) is left as it is."""
        for request in requests:
            reply = timeout_reply(request)
            try:
                self.client.create_schedule(
                    Name=schedule_name(reply["replyto"], reply["causationid"]),
                    GroupName=self.group,
                    ScheduleExpression=f"at({not_in_the_past(request['deadline'])[:-1]})",
                    ScheduleExpressionTimezone="UTC",
                    FlexibleTimeWindow={"Mode": "OFF"},
                    ActionAfterCompletion="DELETE",
                    Target={
                        "Arn": self.bus_arn,
                        "RoleArn": self.role_arn,
                        "EventBridgeParameters": {
                            "DetailType": reply["type"],
                            "Source": TIMEOUT_SOURCE,
                        },
                        "Input": json.dumps(reply, separators=(",", ":")),
                    },
                )
            except self.client.exceptions.ConflictException:
                continue


class InMemoryDeadlines:
    """Deadlines kept in a list (the in-memory bus fires them when told to)."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, dict[str, Any]]] = {}

    def schedule(self, requests: Iterable[Mapping[str, Any]]) -> None:
        """Keep each request's timeout reply with its deadline."""
        for request in requests:
            reply = timeout_reply(request)
            self.pending.setdefault(reply["id"], (str(request["deadline"]), reply))

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """The timeout replies due at `now`, removed from the pending ones."""
        stamp = now.astimezone(UTC).strftime(DEADLINE_FORMAT)
        fired = [key for key, (deadline, _) in self.pending.items() if deadline <= stamp]
        return [self.pending.pop(key)[1] for key in fired]
