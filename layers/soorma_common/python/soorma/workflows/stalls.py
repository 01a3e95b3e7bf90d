"""Stalled workflows: the sweep that reports open plans with no progress for a while.

Open plans carry their last progress time in the memory table's sparse `by_progress` index
(`soorma.memory.progress`), spread over `keys.OPEN_SHARDS` partitions. A sweep (an EventBridge
Scheduler rate schedule invoking `functions/stall_sweep`; `MotoHarness.sweep_stalled` and the
local cloud's schedule pump locally) runs one Query per shard for `open_sk < now - stalled_after`
(never a Scan) and, for each plan found, one conditional UpdateItem that marks it:
`open_sk = STALLED#<last progress>` only if `open_sk` is still the progress time it read. The
mark sorts after every time, so later sweeps do not read the plan again; a plan that progresses
gets a new progress time (and is reported again if it stalls again). The sweep that wins the
mark publishes `workflow.stalled` on `system-events` (event id derived from the plan and its
last progress, so a retried publish is the same event); if the publish fails the mark is undone,
and the next sweep reports the plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soorma.memory import keys
from soorma.memory.progress import INDEX, OPEN_PK, OPEN_SK, STALLED_AT
from soorma.memory.table import ConditionFailed, Item, MemoryTable
from soorma_common.envelope import EventEnvelope
from soorma_common.naming import PLATFORM_SOURCE, WORKFLOW_STALLED_EVENT
from soorma_common.topics import EventTopic

#: Default: a plan is stalled after 15 minutes without progress.
DEFAULT_STALLED_AFTER_SECONDS = 900
#: Index entries read per Query page.
PAGE_SIZE = 100
#: Notices per PutEvents (EventBridge's limit of entries per request).
PUBLISH_BATCH = 10
#: Plans reported per sweep at most (the rest stay in the index for the next sweep).
DEFAULT_MAX_REPORTS = 1_000
_NAMESPACE = uuid.UUID("5e3f9d0a-6c1b-4b8e-9a71-0c2d4f6b8e13")
_CHOREOGRAPHY_SK = "AI#CHOREOGRAPHY"

Publish = Callable[[Sequence[EventEnvelope]], None]


@dataclass(frozen=True)
class StalledPlan:
    """One open plan found without progress since `last_progress` (ISO 8601 UTC)."""

    tenant_id: str
    plan_id: str
    kind: str  # "workflow" (a plan record) or "choreography" (an AI planner's state)
    last_progress: str
    stalled_seconds: float
    user_id: str | None = None
    correlation_id: str | None = None
    state: str | None = None
    status: str | None = None
    pending_requests: int = 0

    def event(self, stalled_after_seconds: float) -> EventEnvelope:
        """The `workflow.stalled` notice of this stall (same stall, same event id)."""
        data: dict[str, Any] = {
            "plan_id": self.plan_id,
            "kind": self.kind,
            "state": self.state,
            "status": self.status,
            "last_progress": self.last_progress,
            "stalled_seconds": round(self.stalled_seconds, 3),
            "stalled_after_seconds": stalled_after_seconds,
        }
        if self.kind == "choreography":
            data["pending_requests"] = self.pending_requests
        attributes: dict[str, Any] = {}
        if self.correlation_id:
            attributes["correlation_id"] = self.correlation_id
        return EventEnvelope(
            id=str(uuid.uuid5(_NAMESPACE, f"{self.tenant_id}:{self.plan_id}:{self.last_progress}")),
            source=PLATFORM_SOURCE,
            type=WORKFLOW_STALLED_EVENT,
            topic=EventTopic.SYSTEM_EVENTS,
            data=data,
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            plan_id=self.plan_id,
            **attributes,
        )


@dataclass
class SweepReport:
    """What one sweep did: Queries made, index entries read, plans reported (and their
    events), marks lost to a plan that progressed or another sweep."""

    queries: int = 0
    candidates: int = 0
    reported: list[StalledPlan] = field(default_factory=list)
    lost: int = 0


def cutoff(now: datetime, stalled_after_seconds: float) -> str:
    """The progress time before which an open plan is stalled (as `now_iso` writes times)."""
    return (now - timedelta(seconds=stalled_after_seconds)).isoformat(timespec="microseconds")


def find_candidates(
    table: MemoryTable, before: str, report: SweepReport, *, limit: int
) -> list[Item]:
    """Index entries (keys) of open plans whose last progress is before `before`, oldest
    first per shard: one Query per shard and page, at most `limit` in all."""
    found: list[Item] = []
    for shard in keys.open_pks():
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page, start = table.query_page(
                f"{OPEN_PK} = :shard AND {OPEN_SK} < :before",
                values={":shard": shard, ":before": before},
                index=INDEX,
                limit=min(PAGE_SIZE, limit - len(found)),
                start_key=start,
            )
            report.queries += 1
            found += page
            if start is None:
                break
    report.candidates += len(found)
    return found


def mark_stalled(table: MemoryTable, entry: Item, now: datetime) -> StalledPlan | None:
    """Mark one plan reported (conditional on its progress time being the one read); None when
    it progressed meanwhile or another sweep marked it first."""
    seen = str(entry[OPEN_SK])
    try:
        item = table.update(
            str(entry["pk"]),
            str(entry["sk"]),
            f"SET {OPEN_SK} = :mark, {STALLED_AT} = :now",
            values={
                ":seen": seen,
                ":mark": keys.STALLED_PREFIX + seen,
                ":now": now.isoformat(timespec="microseconds"),
            },
            condition=f"{OPEN_SK} = :seen",
        )
    except ConditionFailed:
        return None
    return _stalled_plan(item, seen, now)


def unmark(table: MemoryTable, stalled: StalledPlan, entry: Item) -> None:
    """Undo a mark whose notice could not be published (unless the plan progressed since)."""
    seen = str(entry[OPEN_SK])
    try:
        table.update(
            str(entry["pk"]),
            str(entry["sk"]),
            f"SET {OPEN_SK} = :seen REMOVE {STALLED_AT}",
            values={":seen": seen, ":mark": keys.STALLED_PREFIX + seen},
            condition=f"{OPEN_SK} = :mark",
            returns="NONE",
        )
    except ConditionFailed:
        return


def sweep(
    table: MemoryTable,
    publish: Publish,
    *,
    now: datetime | None = None,
    stalled_after_seconds: float = DEFAULT_STALLED_AFTER_SECONDS,
    max_reports: int = DEFAULT_MAX_REPORTS,
) -> SweepReport:
    """Report every open plan without progress for `stalled_after_seconds`, once per stall.

    Raises what `publish` raised (after undoing that plan's mark), so that the invocation fails
    and its errors alarm; the plans reported before it stay reported.
    """
    now = now or datetime.now(UTC)
    report = SweepReport()
    before = cutoff(now, stalled_after_seconds)
    marked: list[tuple[StalledPlan, Item]] = []
    for entry in find_candidates(table, before, report, limit=max_reports):
        stalled = mark_stalled(table, entry, now)
        if stalled is None:
            report.lost += 1
            continue
        marked.append((stalled, entry))
        if len(marked) == PUBLISH_BATCH:
            _publish(table, publish, marked, stalled_after_seconds, report)
            marked = []
    _publish(table, publish, marked, stalled_after_seconds, report)
    return report


def _publish(
    table: MemoryTable,
    publish: Publish,
    marked: list[tuple[StalledPlan, Item]],
    stalled_after_seconds: float,
    report: SweepReport,
) -> None:
    """One PutEvents of up to 10 notices; on failure every mark of the batch is undone (a
    notice that did go out comes again with the same id: consumers drop duplicates)."""
    if not marked:
        return
    try:
        publish([stalled.event(stalled_after_seconds) for stalled, _ in marked])
    except Exception:
        for stalled, entry in marked:
            unmark(table, stalled, entry)
        raise
    report.reported += [stalled for stalled, _ in marked]


def _stalled_plan(item: Item, last_progress: str, now: datetime) -> StalledPlan:
    since = datetime.fromisoformat(last_progress)
    choreography = item.get("sk") == _CHOREOGRAPHY_SK
    goal = (item.get("goal") if choreography else (item.get("context") or {}).get("goal")) or {}
    return StalledPlan(
        tenant_id=str(item.get("tenant_id") or _tenant_of(str(item["pk"]))),
        plan_id=str(item.get("plan_id") or str(item["pk"]).rsplit("#", 1)[-1]),
        kind="choreography" if choreography else "workflow",
        last_progress=last_progress,
        stalled_seconds=(now - since).total_seconds(),
        user_id=item.get("user_id"),
        correlation_id=goal.get("correlation_id") if isinstance(goal, dict) else None,
        state=None if choreography else item.get("state"),
        status=item.get("status"),
        pending_requests=len(item.get("pending") or {}) if choreography else 0,
    )


def _tenant_of(pk: str) -> str:
    """The tenant of a key `T#<tenant>#...`."""
    return pk.split(keys.SEPARATOR, 2)[1]


def platform_publisher(bus: str | None = None, events_client: Any = None) -> Publish:
    """Publish notices as `soorma.platform` on `bus` (default `SOORMA_EVENT_BUS`) with
    `events_client` (default: the process's); no registry check (a platform event)."""
    from soorma.publishing import EventBridgeSink, EventPublisher

    publisher = EventPublisher(
        PLATFORM_SOURCE,
        bus=bus,
        sink=EventBridgeSink(events_client),
        validate_payload=_unchecked,
    )
    return publisher.publish_envelopes


def _unchecked(event_type: str, data: Any) -> None:
    """The platform's own notices are not registry events: nothing to check."""
