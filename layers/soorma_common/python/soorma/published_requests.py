"""What `EventPublisher` does for the requests it publishes as an agent, outside Lambda.

A request published as agent `soorma.<agent>` and addressed back to it (`reply_to=<agent>`) is
recorded as the agent's pending request before it is put (`soorma.requests`), so the agent
accepts its reply. With a `timeout` it also gets a deadline, as `bus.request(timeout=)` inside
a handler: after the record, a one-time EventBridge Scheduler schedule puts the timeout reply,
and the agent's result handler gets exactly one of the reply and the timeout (docs/deadlines.md).
A `deadline` set by hand is checked as a handler's is (`check_deadline`) before anything is
recorded or put.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soorma.config import settings
from soorma.deadlines import Deadlines, check_deadline, deadline_after, requests_with_deadlines
from soorma_common.errors import InvalidEnvelopeError
from soorma_common.naming import agent_of_source

WireEvent = Mapping[str, Any]


class PublishedRequests:
    """Records an agent's requests published from outside Lambda, and schedules their
    deadlines. `pending_requests` / `deadlines` replace the ones the `SOORMA_*` settings give
    (the idempotency table; Scheduler with `SOORMA_EVENT_BUS_ARN`, `SOORMA_DEADLINE_ROLE_ARN`,
    `SOORMA_SCHEDULE_GROUP`)."""

    def __init__(self, *, pending_requests: Any = None, deadlines: Deadlines | None = None):
        self._pending_requests = pending_requests
        self._deadlines = deadlines

    def deadline(self, source: str, timeout: float, attributes: Mapping[str, Any]) -> str:
        """The `deadline` of a request published by `source` with `attributes`, `timeout`
        seconds from now. Raises `InvalidEnvelopeError` (nothing is put) unless it is a request
        of the agent `source` names, addressed back to it, and deadlines can be scheduled."""
        agent = agent_of_source(source)
        if agent is None or attributes.get("reply_to") != agent:
            raise InvalidEnvelopeError(
                f"publish(..., timeout=): only a request published as an agent and addressed "
                f"back to it has a deadline (source 'soorma.<agent>', reply_to='<agent>'); got "
                f"source {source!r}, reply_to {attributes.get('reply_to')!r}"
            )
        if not attributes.get("response_event"):
            raise InvalidEnvelopeError(
                "publish(..., timeout=): a request with a deadline names its response_event"
            )
        if self._pending() is None or self._scheduler() is None:
            raise InvalidEnvelopeError(
                "publish(..., timeout=): deadlines need the idempotency table and a scheduler "
                "(SOORMA_IDEMPOTENCY_TABLE, SOORMA_EVENT_BUS_ARN, SOORMA_DEADLINE_ROLE_ARN: the "
                "stack's outputs)"
            )
        return deadline_after(timeout, most=settings().idempotency_ttl_seconds)

    def record(self, source: str, wires: Sequence[WireEvent]) -> None:
        """Before the put: check every `deadline` among `wires` as a handler's are (format, at
        most the pending request's lifetime: `InvalidEnvelopeError`, nothing recorded), keep
        the agent's requests pending, then schedule the deadlines of those that carry one
        (after the record: a timeout always finds it)."""
        most = settings().idempotency_ttl_seconds
        for wire in wires:
            if "deadline" in wire:
                check_deadline(wire["deadline"], most=most)
        agent = agent_of_source(source)
        if agent is None or not any(wire.get("replyto") == agent for wire in wires):
            return
        from soorma.requests import sent_requests

        requests = sent_requests(agent, wires)
        pending = self._pending() if requests else None
        if pending is None:
            return
        timed = [w for w in requests_with_deadlines(wires) if w.get("replyto") == agent]
        scheduler = self._scheduler() if timed else None
        if timed and scheduler is None:
            raise InvalidEnvelopeError(
                f"{len(timed)} request(s) carry a deadline but no scheduler is configured "
                "(SOORMA_EVENT_BUS_ARN, SOORMA_DEADLINE_ROLE_ARN); nothing was published"
            )
        pending.record(requests)
        if scheduler is not None:
            scheduler.schedule(timed)

    def _pending(self) -> Any:
        if self._pending_requests is None:
            conf = settings()
            if conf.idempotency_table:
                from soorma.requests import DynamoDBPendingRequests

                ttl = conf.idempotency_ttl_seconds
                self._pending_requests = DynamoDBPendingRequests(
                    conf.idempotency_table, ttl_seconds=ttl
                )
        return self._pending_requests

    def _scheduler(self) -> Deadlines | None:
        if self._deadlines is None:
            conf = settings()
            if conf.event_bus_arn and conf.deadline_role_arn:
                from soorma.deadlines import SchedulerDeadlines

                self._deadlines = SchedulerDeadlines(
                    bus_arn=conf.event_bus_arn,
                    role_arn=conf.deadline_role_arn,
                    group=conf.schedule_group,
                )
        return self._deadlines
