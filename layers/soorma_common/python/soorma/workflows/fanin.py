"""Fan-out and fan-in of sub-requests, for `TaskContext` (workers) and `PlanContext` (planners).

A *group* is one item, `T#<t>#TASK#<agent>#<group_id>`: the requests one agent delegated, the
set of request ids still pending, and the results recorded so far (by request id). The agent is
part of the key: two agents handling the same event delegate into two groups. Each sub-request
also gets a pointer item `T#<t>#REQUEST#<request_id>` -> (agent, group), because a reply names
only its request (its `causation_id`); only that agent restores the group from it.

Recording a result is one UpdateItem that stores it and removes its request id from `pending`
on the condition that the id is still pending. DynamoDB applies updates of one item one after
the other, so exactly one of them empties the set, even when two results arrive in two
processes at the same instant: that caller sees `complete`. The group remembers which result
event emptied it (`last_recorded`), so a retried handler for that same event sees `complete`
again, and any other (duplicate) delivery sees it as already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soorma.bus import BusClient
from soorma.memory import keys
from soorma.memory.client import MemoryClient
from soorma.memory.table import ConditionFailed, Item, now_iso
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic


@dataclass(frozen=True)
class Delegation:
    """One sub-request to delegate: its event type, data, and the event type of its reply."""

    event_type: str
    data: Any
    response_event: str

    @classmethod
    def of(cls, value: Delegation | Mapping[str, Any] | Sequence[Any]) -> Delegation:
        """Accept a `Delegation`, a dict with the three fields, or an `(event_type, data,
        response_event)` tuple."""
        if isinstance(value, Delegation):
            return value
        if isinstance(value, Mapping):
            return cls(value["event_type"], value.get("data"), value["response_event"])
        event_type, data, response_event = value
        return cls(event_type, data, response_event)


@dataclass(frozen=True)
class SubResult:
    """The reply to one delegated sub-request."""

    request_id: str
    request_type: str
    response_event: str
    event_type: str
    event_id: str
    data: Any

    @property
    def success(self) -> bool:
        """False when the reply says `{"success": false, ...}` (a responder's domain error)."""
        return not (isinstance(self.data, Mapping) and self.data.get("success") is False)

    @classmethod
    def from_item(cls, request_id: str, value: Mapping[str, Any]) -> SubResult:
        """From the group item's `results` map."""
        return cls(
            request_id=request_id,
            request_type=value.get("request_type", ""),
            response_event=value.get("response_event", ""),
            event_type=value.get("event_type", ""),
            event_id=value.get("event_id", ""),
            data=value.get("data"),
        )


@dataclass(frozen=True)
class FanIn:
    """What recording one result found: whether it was new, and whether it completed the group."""

    recorded: bool
    complete: bool
    group: Item

    @property
    def results(self) -> dict[str, SubResult]:
        """Every result recorded so far, by request id."""
        return results_of(self.group)


def results_of(group: Item) -> dict[str, SubResult]:
    """The results recorded in a group item, by request id."""
    return {rid: SubResult.from_item(rid, v) for rid, v in (group.get("results") or {}).items()}


def delegate(
    memory: MemoryClient,
    bus: BusClient,
    group_id: str,
    delegations: Iterable[Delegation | Mapping[str, Any] | Sequence[Any]],
    *,
    parent: Mapping[str, Any],
    agent: str,
    plan_id: str | None = None,
    created_by: str | None = None,
) -> list[str]:
    """Publish sub-requests (buffered) and persist the group that waits for their replies."""
    wanted = [Delegation.of(d) for d in delegations]
    if not wanted:
        raise ValueError("delegate needs at least one sub-request")
    attributes = {} if plan_id is None else {"plan_id": plan_id}
    requests: dict[str, dict[str, str]] = {}
    for d in wanted:
        request_id = bus.request(d.event_type, d.data, d.response_event, **attributes)
        requests[str(request_id)] = {"event_type": d.event_type, "response_event": d.response_event}
    table = memory.table
    now = now_iso()
    pk = keys.task_pk(memory.tenant_id, agent, group_id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": keys.META,
        **memory.item_stamp("task"),
        "task_id": group_id,
        "agent": agent,
        "plan_id": plan_id,
        "parent": dict(parent),
        "requests": requests,
        "pending": set(requests),
        "results": {},
        "status": "waiting",
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
        TTL_ATTRIBUTE: table.expires_at(),
    }
    try:
        table.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        _add_requests(memory, pk, agent, requests)
    table.put_many(
        [
            {
                "pk": keys.request_pk(memory.tenant_id, request_id),
                "sk": keys.META,
                **memory.item_stamp("request"),
                "agent": agent,
                "task_id": group_id,
                TTL_ATTRIBUTE: table.expires_at(),
            }
            for request_id in requests
        ]
    )
    bus.publish(
        EventTopic.TASK_EVENTS,
        "task.delegated",
        {
            "task_id": group_id,
            "plan_id": plan_id,
            "agent": agent,
            "requests": [{"request_id": r, **v} for r, v in requests.items()],
        },
        **attributes,
    )
    return list(requests)


def _add_requests(
    memory: MemoryClient, pk: str, agent: str, requests: Mapping[str, Mapping[str, str]]
) -> None:
    """Add requests to a group that exists (a second `delegate` of the same task)."""
    names: dict[str, str] = {"#agent": "agent"}
    values: dict[str, Any] = {
        ":ids": set(requests),
        ":user": memory.user_id,
        ":agent": agent,
        ":now": now_iso(),
    }
    sets = ["updated_at = :now", "#status = :waiting"]
    names["#status"] = "status"
    values[":waiting"] = "waiting"
    for n, (request_id, request) in enumerate(requests.items()):
        names[f"#r{n}"] = request_id
        values[f":q{n}"] = dict(request)
        sets.append(f"requests.#r{n} = :q{n}")
    memory.table.update(
        pk,
        keys.META,
        f"SET {', '.join(sets)} ADD pending :ids",
        names=names,
        values=values,
        condition="attribute_exists(pk) AND user_id = :user AND #agent = :agent",
    )


def find_group(memory: MemoryClient, agent: str, request_id: str | None) -> Item | None:
    """The group of `agent` a sub-request belongs to (from a reply's `causation_id`), or None
    (no such request, or another agent's or user's)."""
    if not request_id:
        return None
    pointer = memory.table.get(keys.request_pk(memory.tenant_id, request_id), keys.META)
    if pointer is None or pointer.get("user_id") != memory.user_id:
        return None
    if pointer.get("agent") != agent:
        return None
    return get_group(memory, agent, pointer["task_id"])


def get_group(memory: MemoryClient, agent: str, group_id: str) -> Item | None:
    """A group of `agent` by id (this user's only), or None."""
    group = memory.table.get(keys.task_pk(memory.tenant_id, agent, group_id), keys.META)
    if group is None or group.get("user_id") != memory.user_id:
        return None
    return group


def record(memory: MemoryClient, group: Item, event: EventEnvelope) -> FanIn:
    """Record `event` (a reply) in its group; `complete` is True for exactly one event."""
    request_id = event.causation_id or ""
    request = (group.get("requests") or {}).get(request_id)
    if request is None:
        return FanIn(recorded=False, complete=False, group=group)
    result = {
        "request_type": request.get("event_type"),
        "response_event": request.get("response_event"),
        "event_type": event.type,
        "event_id": event.id,
        "data": event.data,
        "at": now_iso(),
    }
    try:
        updated = memory.table.update(
            group["pk"],
            keys.META,
            "SET results.#r = :result, last_recorded = :event, updated_at = :now "
            "DELETE pending :ids",
            names={"#r": request_id},
            values={
                ":result": result,
                ":event": event.id,
                ":now": now_iso(),
                ":ids": {request_id},
                ":id": request_id,
                ":user": memory.user_id,
            },
            condition="contains(pending, :id) AND user_id = :user",
        )
    except ConditionFailed as failed:
        current = failed.current or group
        again = not current.get("pending") and current.get("last_recorded") == event.id
        return FanIn(recorded=False, complete=again, group=current)
    return FanIn(recorded=True, complete=not updated.get("pending"), group=updated)


def set_status(memory: MemoryClient, group: Item, status: str) -> None:
    """Mark a group (e.g. `completed`, `failed`) for humans and `soorma trace`."""
    memory.table.update(
        group["pk"],
        keys.META,
        "SET #status = :status, updated_at = :now",
        names={"#status": "status"},
        values={":status": status, ":now": now_iso()},
    )
