"""EventBridge in memory: `PutEvents` on one bus, rules matched into the agents' queues."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from soorma.publishing import PutEventsEntry, failed_entries
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import SoormaError
from soorma_common.routing import RuleSpec, pattern_matches
from soorma_dev.inmemory.queues import Message, Queue


class PutEventsValidationError(SoormaError):
    """A PutEvents call that AWS itself would reject (more than 10 entries, unknown bus)."""


class InMemoryEventBridge:
    """One event bus: every entry put is matched against every rule and copied, as an
    EventBridge event, into the queue of each rule it matches (two rules -> two messages)."""

    def __init__(self, bus_name: str, *, account: str, region: str) -> None:
        self.bus_name = bus_name
        self.account = account
        self.region = region
        #: Every envelope put on the bus, in order (sent from outside and published by agents).
        self.published: list[EventEnvelope] = []
        #: The entries of every PutEvents call, one list per call.
        self.put_calls: list[list[dict[str, Any]]] = []
        self._rules: list[tuple[Queue, RuleSpec]] = []
        self._failing_entries = 0

    def add_rule(self, rule: RuleSpec, target: Queue) -> None:
        """Deliver the events matching `rule` to `target`."""
        self._rules.append((target, rule))

    def fail_next_entries(self, count: int) -> None:
        """Make PutEvents report the next `count` entries as failed (`InternalFailure`)."""
        self._failing_entries += count

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """The `EventSink` face of `put_events`: the failed positions and their error codes."""
        return failed_entries(self.put_events(Entries=list(entries)), len(entries))

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        """EventBridge `PutEvents` on this bus (raw entries, as any producer may send them).
        Returns PutEvents' response shape."""
        if not 1 <= len(Entries) <= 10:
            raise PutEventsValidationError(
                f"PutEvents takes 1 to 10 entries; got {len(Entries)} (AWS rejects the call)"
            )
        self.put_calls.append([dict(e) for e in Entries])
        results: list[dict[str, Any]] = []
        for entry in Entries:
            if self._failing_entries:
                self._failing_entries -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
                continue
            results.append({"EventId": self._route(entry)})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _route(self, entry: dict[str, Any]) -> str:
        bus = entry.get("EventBusName") or "default"
        if bus not in (
            self.bus_name,
            f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.bus_name}",
        ):
            raise PutEventsValidationError(
                f"event bus {bus!r} does not exist (this bus is {self.bus_name!r})"
            )
        event_id = str(uuid.uuid4())
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": list(entry.get("Resources", [])),
            "detail": json.loads(entry["Detail"]),
        }
        self.published.append(EventEnvelope.from_wire(event["detail"]))
        body = json.dumps(event)
        for queue, rule in self._rules:
            if pattern_matches(rule.pattern, event):
                queue.messages.append(Message(message_id=str(uuid.uuid4()), body=body))
        return event_id
