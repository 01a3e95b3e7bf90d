"""PutEvents routed by the publishing process: every entry is matched against the rules the
faithful mode installs on moto (`soorma_common.routing.rules_for`, matched by
`pattern_matches`, as the in-memory bus does) and inserted into the target queues, and into the
event log when the event log's rules match it, in one SQLite transaction per call. A request
over EventBridge's 256 KB is refused whole, as the faithful mode refuses it
(`soorma_dev.localcloud.limits`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from soorma.event_log import SORT_PREFIX, fixed_width_time
from soorma.publishing import PutEventsEntry, failed_entries
from soorma_common.routing import pattern_matches
from soorma_dev.localcloud.fast.database import Database
from soorma_dev.localcloud.fast.sqs import now_ms, unsupported
from soorma_dev.localcloud.limits import entries_too_large

#: The target of the event log's rules: its table, not a queue (no event-log worker runs).
EVENT_LOG_TARGET = "event-log"


class RoutingEventBridge:
    """A boto3-like EventBridge client (`put_events`) and an `EventSink` (`put_entries`)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._rules: list[tuple[str, dict[str, Any]]] | None = None
        self._buses: tuple[str, ...] = ()
        self._account = self._region = ""

    def _load(self) -> list[tuple[str, dict[str, Any]]]:
        if self._rules is None:
            bus, self._account = self.database.setting("bus_name"), self.database.setting("account")
            self._region = self.database.setting("region")
            self._buses = (bus, f"arn:aws:events:{self._region}:{self._account}:event-bus/{bus}")
            rows = self.database.read("SELECT target, pattern FROM rules ORDER BY seq")
            self._rules = [(target, json.loads(pattern)) for target, pattern in rows]
        return self._rules

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """The `EventSink` face of `put_events`: the failed positions and their error codes."""
        return failed_entries(self.put_events(Entries=list(entries)), len(entries))

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        """`PutEvents`: route each entry; an entry for another bus or with a `Detail` that is not
        a JSON object fails alone, as on EventBridge. A request whose entries are over 256 KB
        together is refused whole (`ClientError`, `ValidationException`), nothing routed."""
        if not 1 <= len(Entries) <= 10:
            raise ValueError(f"PutEvents takes 1 to 10 entries; got {len(Entries)}")
        too_large = entries_too_large(Entries)
        if too_large is not None:
            raise validation_error(too_large)
        rules = self._load()
        results: list[dict[str, Any]] = []
        messages: list[tuple[Any, ...]] = []
        logged: list[tuple[str, str, str]] = []
        sent = now_ms()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for entry in Entries:
            bus = entry.get("EventBusName") or "default"
            try:
                detail = json.loads(entry["Detail"])
            except (KeyError, TypeError, ValueError):
                detail = None
            if bus not in self._buses or not isinstance(detail, dict):
                code = "MalformedDetail" if bus in self._buses else "ResourceNotFoundException"
                results.append({"ErrorCode": code, "ErrorMessage": f"bus {bus!r}"})
                continue
            event_id = str(uuid.uuid4())
            event = {
                "version": "0",
                "id": event_id,
                "detail-type": entry.get("DetailType"),
                "source": entry.get("Source"),
                "account": self._account,
                "time": stamp,
                "region": self._region,
                "resources": list(entry.get("Resources", [])),
                "detail": detail,
            }
            body = json.dumps(event)
            # one message per matching rule, as EventBridge sends one per rule target
            targets = [target for target, pattern in rules if pattern_matches(pattern, event)]
            for target in targets:
                if target != EVENT_LOG_TARGET:
                    messages.append((target, str(uuid.uuid4()), body, sent, sent))
            if EVENT_LOG_TARGET in targets:
                logged.append(log_row(detail, entry["Detail"]))
            results.append({"EventId": event_id})
        if messages or logged:
            with self.database.write() as db:
                db.executemany(
                    "INSERT INTO messages (queue, message_id, body, sent_ms, visible_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    messages,
                )
                db.executemany("INSERT OR REPLACE INTO event_log VALUES (?, ?, ?)", logged)
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def __getattr__(self, name: str) -> Any:
        raise unsupported("EventBridge", name)


def validation_error(message: str) -> ClientError:
    """The error boto3 raises for a PutEvents request EventBridge refuses (HTTP 400,
    `ValidationException`), as the faithful mode's client gets it from `limits`' middleware."""
    return ClientError(
        {
            "Error": {"Code": "ValidationException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "PutEvents",
    )


def log_row(detail: dict[str, Any], wire: str) -> tuple[str, str, str]:
    """The event log's row of one envelope: what `functions/event_log` keys its item by
    (`CORR#<correlation id>`, `EVENT#<time>#<id>`) and the envelope's wire JSON."""
    event_id = str(detail.get("id", ""))
    correlation_id = str(detail.get("correlationid") or event_id)
    time_text = fixed_width_time(str(detail.get("time", "")))
    return correlation_id, f"{SORT_PREFIX}{time_text}#{event_id}", wire
