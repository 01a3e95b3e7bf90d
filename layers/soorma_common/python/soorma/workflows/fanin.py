"""Fan-out and fan-in of sub-requests, for `TaskContext` (workers) and `PlanContext` (planners).

A *group* lives in the partition `T#<t>#TASK#<agent>#<group_id>`: its `META` item counts the
requests delegated (`expected`) and the replies recorded (`received`); each reply is an item of
its own, `REPLY#<n>` (n: the request's place in delegation order), so recording a reply writes
what it adds, whatever the size of the group. Each sub-request has a pointer item
`T#<t>#REQUEST#<request_id>` -> (agent, group, place, types), because a reply names only its
request (its `causation_id`); only the agent that made the request restores the group from it.
The agent is part of the group's key: two agents handling the same event delegate apart.

Recording a reply is one transaction: put the reply item (on the condition that the request has
no reply yet) and add 1 to `received`. A redelivered reply fails the condition and is not
counted twice. Completion is then *claimed*: one conditional UpdateItem sets `completed_by` to
the reply's event id if `received >= expected` and no one claimed it yet. DynamoDB applies the
writes of one item one after the other, so exactly one reply claims it, even when two arrive in
two processes at the same instant; a retried handler for the claiming event sees `complete`
again. A group ended by hand (`TaskContext.fail`, `PlanContext.fail`) is `closed`: later replies
are recorded and counted (`late_replies`) but never complete it.

Delegating again into a group whose completion was claimed (map, then reduce) opens a new
*round* (`round`): the claim moves to `earlier_claims` and the new round is claimed, once, when
its replies are in too. How a reply item stores data DynamoDB cannot hold as a map (too big,
numbers of more than 38 digits) is `soorma.workflows.replies`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soorma.bus import BusClient
from soorma.memory import keys
from soorma.memory.client import MemoryClient
from soorma.memory.scope import table_of
from soorma.memory.table import (
    ConditionFailed,
    Item,
    TransactionCancelled,
    now_iso,
    update_operation,
)
from soorma.workflows.replies import SubResult, reply_put, results_of
from soorma.workflows.task_owner import refuse_another_source
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import EmptyDelegationError, VersionConflictError
from soorma_common.topics import EventTopic

__all__ = [
    "Delegation",
    "FanIn",
    "SubResult",
    "close",
    "delegate",
    "find_group",
    "find_request",
    "get_group",
    "record",
    "results_of",
    "set_status",
]


@dataclass(frozen=True)
class Delegation:
    """One sub-request to delegate: its event type, data, the event type of its reply, and the
    key its reply is found under in a plan's `results` (default: the reply's event type)."""

    event_type: str
    data: Any
    response_event: str
    key: str | None = None

    @classmethod
    def of(cls, value: Delegation | Mapping[str, Any] | Sequence[Any]) -> Delegation:
        """Accept a `Delegation`, a dict with the three fields, or an `(event_type, data,
        response_event)` tuple."""
        if isinstance(value, Delegation):
            return value
        if isinstance(value, Mapping):
            return cls(
                value["event_type"], value.get("data"), value["response_event"], value.get("key")
            )
        event_type, data, response_event = value
        return cls(event_type, data, response_event)


@dataclass(frozen=True)
class FanIn:
    """What recording one reply found: whether it was new, whether it completed the group, and
    whether it came after the group was ended by hand (`late`: recorded, never completing)."""

    recorded: bool
    complete: bool
    group: Item
    late: bool = False


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
    timeout: float | None = None,
) -> list[str]:
    """Publish sub-requests (buffered) and persist the group that waits for their replies.

    With `timeout` (seconds), each sub-request has a deadline (`soorma.deadlines`): a
    sub-request not answered in time gets the timeout reply instead (`{"success": false,
    "error": "timeout"}`), recorded like any reply, so the group completes at the deadline with
    the missing answers marked as timeouts."""
    wanted = [Delegation.of(d) for d in delegations]
    if not wanted:
        raise EmptyDelegationError(
            f"delegate_parallel([]) by agent {agent!r} for {group_id!r}: no sub-request to "
            "delegate, so no reply could ever come; pass at least one (event_type, data, "
            "response_event), or complete the task without delegating"
        )
    attributes: dict[str, Any] = {} if plan_id is None else {"plan_id": plan_id}
    requests: dict[str, Delegation] = {}
    for d in wanted:
        sent = bus.request(d.event_type, d.data, d.response_event, timeout=timeout, **attributes)
        requests[str(sent)] = d
    table = table_of(memory)
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
        "expected": len(requests),
        "received": 0,
        "status": "waiting",
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
        TTL_ATTRIBUTE: table.expires_at(),
    }
    try:
        table.put(item, condition="attribute_not_exists(pk)")
        first = 0
    except ConditionFailed as failed:
        refuse_another_source(failed.current or {}, parent, agent, group_id)
        first = _add_requests(memory, failed.current or {}, pk, agent, list(requests))
    table.put_many(
        [
            {
                "pk": keys.request_pk(memory.tenant_id, request_id),
                "sk": keys.META,
                **memory.item_stamp("request"),
                "agent": agent,
                "task_id": group_id,
                "index": first + n,
                "event_type": d.event_type,
                "response_event": d.response_event,
                "key": d.key or d.response_event,
                TTL_ATTRIBUTE: table.expires_at(),
            }
            for n, (request_id, d) in enumerate(requests.items())
        ]
    )
    bus.publish(
        EventTopic.TASK_EVENTS,
        "task.delegated",
        {
            "task_id": group_id,
            "plan_id": plan_id,
            "agent": agent,
            "requests": [
                {"request_id": r, "event_type": d.event_type, "response_event": d.response_event}
                for r, d in requests.items()
            ],
        },
        **attributes,
    )
    return list(requests)


def _add_requests(
    memory: MemoryClient, current: Item, pk: str, agent: str, request_ids: list[str]
) -> int:
    """Add requests to a group that exists (a second `delegate` into the same task); returns
    the place of the first one.

    Into a group whose completion was claimed, they open the next *round*: the claim moves to
    `earlier_claims` and the round completes, once, when its replies are in too. A retried
    handler delegates the same (derived) request ids again: they were added already, so
    nothing is counted twice.
    """
    table = table_of(memory)
    added = find_request(memory, agent, request_ids[0])
    if added is not None and added.get("task_id") == current.get("task_id"):
        return int(added["index"])  # a retry of the handler that delegated them
    count = len(request_ids)
    for _ in range(_ATTEMPTS):
        values: dict[str, Any] = {
            ":count": count,
            ":user": memory.user_id,
            ":agent": agent,
            ":now": now_iso(),
            ":waiting": "waiting",
        }
        condition = "attribute_exists(pk) AND user_id = :user AND #agent = :agent AND "
        expression = "SET updated_at = :now, #status = :waiting"
        claimed = current.get("completed_by")
        if claimed:  # the current round is complete: these requests open the next one
            values.update({":claimed": claimed, ":claims": [claimed], ":none": [], ":one": 1})
            expression += (
                ", earlier_claims = list_append(if_not_exists(earlier_claims, :none), :claims)"
                ", #round = if_not_exists(#round, :one) + :one"  # a group starts at round 1
                " REMOVE completed_by ADD expected :count"
            )
            condition += "completed_by = :claimed"
        else:
            expression += " ADD expected :count"
            condition += "attribute_not_exists(completed_by)"
        try:
            updated = table.update(
                pk,
                keys.META,
                expression,
                names={
                    "#agent": "agent",
                    "#status": "status",
                    **({"#round": "round"} if claimed else {}),
                },
                values=values,
                condition=condition,
                returns="UPDATED_NEW",
            )
        except ConditionFailed as failed:  # the round was completed (or opened) meanwhile
            if failed.current is None or failed.current.get("user_id") != memory.user_id:
                raise
            current = failed.current
            continue
        return int(updated["expected"]) - count
    raise VersionConflictError(
        f"group {pk} changed {_ATTEMPTS} times while requests were added to it: retry"
    )


def find_request(memory: MemoryClient, agent: str, request_id: str | None) -> Item | None:
    """The pointer of a sub-request of `agent` (from a reply's `causation_id`), or None (no such
    request, or another agent's or user's)."""
    if not request_id:
        return None
    pointer = table_of(memory).get(keys.request_pk(memory.tenant_id, request_id), keys.META)
    if pointer is None or pointer.get("user_id") != memory.user_id:
        return None
    return pointer if pointer.get("agent") == agent else None


def find_group(memory: MemoryClient, agent: str, request_id: str | None) -> Item | None:
    """The group of `agent` a sub-request belongs to (from a reply's `causation_id`), or None."""
    pointer = find_request(memory, agent, request_id)
    return None if pointer is None else get_group(memory, agent, pointer["task_id"])


def get_group(memory: MemoryClient, agent: str, group_id: str) -> Item | None:
    """A group of `agent` by id (this user's only), or None."""
    group = table_of(memory).get(keys.task_pk(memory.tenant_id, agent, group_id), keys.META)
    if group is None or group.get("user_id") != memory.user_id:
        return None
    return group


def record(
    memory: MemoryClient,
    group: Item,
    event: EventEnvelope,
    *,
    late: bool = False,
    pointer: Item | None = None,
) -> FanIn:
    """Record `event` (a reply) in its group; `complete` is True for exactly one event.

    `late`: the caller knows the work the group belongs to has ended (a plan failed or completed
    by hand): the reply is recorded and counted, and never completes the group.
    """
    table = table_of(memory)
    if pointer is None or pointer.get("pk") != keys.request_pk(
        memory.tenant_id, event.causation_id or "-"
    ):
        pointer = find_request(memory, group.get("agent", ""), event.causation_id)
    if pointer is None or pointer.get("task_id") != group.get("task_id"):
        return FanIn(recorded=False, complete=False, group=group)
    late = late or bool(group.get("closed"))
    now = now_iso()
    reply = {
        "pk": group["pk"],
        "sk": keys.reply_sk(int(pointer["index"])),
        **memory.item_stamp("reply"),
        "request_id": event.causation_id,
        "request_type": pointer.get("event_type"),
        "response_event": pointer.get("response_event"),
        "key": pointer.get("key"),
        "event_type": event.type,
        "event_id": event.id,
        "data": event.data,
        "at": now,
        TTL_ATTRIBUTE: table.expires_at(),
    }
    counted = "SET last_recorded = :event, updated_at = :now ADD received :one"
    if late:
        counted += ", late_replies :one"
    try:
        table.transact(
            [
                reply_put(reply),
                update_operation(
                    group["pk"],
                    keys.META,
                    counted,
                    values={":event": event.id, ":now": now, ":one": 1, ":user": memory.user_id},
                    condition="attribute_exists(pk) AND user_id = :user",
                ),
            ]
        )
        recorded = True
    except TransactionCancelled as cancelled:
        if cancelled.codes[1:] and cancelled.codes[1] == "ConditionalCheckFailed":
            return FanIn(recorded=False, complete=False, group=group)  # the group is gone
        recorded = False  # a redelivery: this request has its reply already
    if late:
        _log.warning(
            "late reply %s (%s) to %s recorded: its %s was ended before all replies came in",
            event.id,
            event.type,
            event.causation_id,
            "plan" if group.get("plan_id") else "task",
        )
        return FanIn(recorded=recorded, complete=False, group=group, late=True)
    complete, current = _claim_completion(memory, group, event.id)
    return FanIn(recorded=recorded, complete=complete, group=current)


def _claim_completion(memory: MemoryClient, group: Item, event_id: str) -> tuple[bool, Item]:
    """Claim the group's completion for `event_id` once every reply is in; True for exactly one
    event (and for a retry of that event's handler)."""
    table = table_of(memory)
    current = table.get(group["pk"], keys.META) or group
    if current.get("completed_by"):
        return current.get("completed_by") == event_id, current
    if event_id in (current.get("earlier_claims") or ()):
        return True, current  # a retry of the handler that completed an earlier round
    if current.get("closed") or int(current.get("received", 0)) < int(current.get("expected", 1)):
        return False, current
    try:
        claimed = table.update(
            group["pk"],
            keys.META,
            "SET completed_by = :event",
            values={":event": event_id},
            condition="attribute_not_exists(completed_by) AND attribute_not_exists(closed) "
            "AND received >= expected",
        )
    except ConditionFailed as failed:
        latest = failed.current or current
        return latest.get("completed_by") == event_id, latest
    return True, claimed


def close(memory: MemoryClient, group: Item, status: str) -> None:
    """End a group by hand (`failed`): replies that arrive later are recorded, never complete it."""
    table_of(memory).update(
        group["pk"],
        keys.META,
        "SET #status = :status, closed = :now, updated_at = :now",
        names={"#status": "status"},
        values={":status": status, ":now": now_iso(), ":user": memory.user_id},
        condition="attribute_exists(pk) AND user_id = :user AND attribute_not_exists(completed_by)",
    )


def set_status(memory: MemoryClient, group: Item, status: str) -> None:
    """Mark a group (e.g. `completed`, `failed`) for humans and `soorma trace`."""
    table_of(memory).update(
        group["pk"],
        keys.META,
        "SET #status = :status, updated_at = :now",
        names={"#status": "status"},
        values={":status": status, ":now": now_iso()},
    )


#: How many times adding requests re-reads a group that changed under it.
_ATTEMPTS = 3
_log = logging.getLogger(__name__)
