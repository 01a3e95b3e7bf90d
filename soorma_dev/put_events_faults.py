"""Watching and failing PutEvents on a real boto3 `events` client with botocore event hooks:
nothing of Soorma is mocked (used with `MotoHarness`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PutEventsCalls:
    """What a `record_put_events` hook saw: the `Entries` of every PutEvents call, in order."""

    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of PutEvents calls."""
        return len(self.calls)

    def details(self) -> list[dict[str, Any]]:
        """The parsed `Detail` of every entry put, in order."""
        return [json.loads(e["Detail"]) for call in self.calls for e in call]


def _events_client() -> Any:
    from soorma import clients

    return clients.client("events")


@contextmanager
def record_put_events(client: Any = None) -> Iterator[PutEventsCalls]:
    """Record every PutEvents call made through a real boto3 `events` client (default: the SDK's
    process-wide client) with a botocore event hook; nothing of Soorma is mocked."""
    client = client or _events_client()
    seen = PutEventsCalls()

    def hook(params: dict[str, Any], **_: Any) -> None:
        seen.calls.append([dict(e) for e in params.get("Entries", [])])

    client.meta.events.register("provide-client-params.events.PutEvents", hook)
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.events.PutEvents", hook)


@contextmanager
def fail_put_events_entries(
    should_fail: Callable[[int, int, dict[str, Any]], bool],
    *,
    error_code: str = "ThrottlingException",
    client: Any = None,
) -> Iterator[PutEventsCalls]:
    """Make PutEvents report some entries as failed, as AWS does on partial failure.

    `should_fail(call_index, entry_index, entry)` picks the entries to fail. They are removed from
    the request before it is sent (so they really are not put) and re-inserted in the parsed
    response as failed entries with `error_code`, in their original positions. Yields the calls
    as they were made by the caller (before removal).
    """
    client = client or _events_client()
    seen = PutEventsCalls()
    failed_positions: list[list[int]] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        entries = list(params.get("Entries", []))
        call = len(seen.calls)
        seen.calls.append([dict(e) for e in entries])
        failing = [i for i, e in enumerate(entries) if should_fail(call, i, e)]
        failed_positions.append(failing)
        if len(failing) < len(entries):
            params["Entries"] = [e for i, e in enumerate(entries) if i not in failing]

    def short_circuit(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        # Every entry fails: answer without sending (PutEvents rejects an empty request).
        failing, entries = failed_positions[-1], seen.calls[-1]
        if not entries or len(failing) < len(entries):
            return None
        from botocore.awsrequest import AWSResponse

        http = AWSResponse("https://events.local/", 200, {}, None)
        return http, {"FailedEntryCount": 0, "Entries": []}

    def after(parsed: dict[str, Any], **_: Any) -> None:
        failing = failed_positions[-1]
        if not failing:
            return
        results = iter(parsed.get("Entries", []))
        total = len(seen.calls[-1])
        merged = []
        for i in range(total):
            if i in failing:
                merged.append({"ErrorCode": error_code, "ErrorMessage": "injected by the test"})
            else:
                merged.append(next(results))
        parsed["Entries"] = merged
        parsed["FailedEntryCount"] = int(parsed.get("FailedEntryCount", 0)) + len(failing)

    client.meta.events.register("provide-client-params.events.PutEvents", before)
    client.meta.events.register("before-call.events.PutEvents", short_circuit)
    client.meta.events.register("after-call.events.PutEvents", after)
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.events.PutEvents", before)
        client.meta.events.unregister("before-call.events.PutEvents", short_circuit)
        client.meta.events.unregister("after-call.events.PutEvents", after)
