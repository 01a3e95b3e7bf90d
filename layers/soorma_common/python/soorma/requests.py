"""The requests an agent sent, and the check that a reply answers one of them.

**The record.** One *pending request* item per request, in the idempotency table, keyed
`<agent>#request#<request id>` (`pending_request_key`), with `status` `PENDING`, the request's
type, `response_event` (when it names one), `response_topic`, correlation id, tenant and user
(`tenant_id`, `user_id`: NULL when the request has none), `deadline` (when it has one),
`sent_at` and `expires_at`: the claim TTL, or, for a request with a deadline, at least
`DEADLINE_MARGIN_SECONDS` past it (so the timeout reply always finds its item). A request is
an event on `action-requests` addressed back to its publisher (`replyto` = the agent of its
source). The runtime writes the items of a batch's requests when it flushes them, and
`EventPublisher` (a caller outside Lambda publishing as `soorma.<agent>`) when it publishes
them, *before* PutEvents (a reply can never arrive before its record), with a conditional put
that never overwrites an item (a re-flush of stored events writes nothing new). A reply is
checked with one consistent `GetItem`. Each request has one outcome: every reply to it (and
its timeout, `soorma.deadlines`) tries one conditional `UpdateItem` `status = PENDING ->
ANSWERED | TIMED_OUT`; the first that succeeds is delivered, and so are its redeliveries.

**Who may reply** (requests are addressed by event type, not by agent): a reply to request R
of agent A is accepted by A only if
1. its `causation_id` names a request A sent (a pending request item exists),
2. its type is R's `response_event` when R names one (what A asked for; a failure reply travels
   under it too; without one, the responder's default reply type is accepted),
3. its source is not A's own (a requester does not answer itself), or it is the platform's
   (`PLATFORM_SOURCE`, e.g. the timeout replies of issue 15),
4. its `correlation_id`, `tenant_id` and `user_id` are R's (a reply stays in its request's
   workflow, tenant and user: a responder's bus carries them over; a timeout reply copies
   them). An item written before tenant and user were stored (no `tenant_id` attribute: the
   previous version, for at most the claim TTL after a deploy) has its tenant and user
   unchecked, as before; its correlation id is checked.
The responder is not named further: any agent that may put R's `response_event` may answer.
Which agents may is enforced by IAM: each agent may put only its own source and the detail-types
it declares in `events_produced` (`infra/permissions.py`), so a third agent can answer R only if
it declares R's reply type. Anything else is dead-lettered as `ForgedReplyError`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from soorma.deadlines import DEADLINE_MARGIN_SECONDS, deadline_time
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import ForgedReplyError
from soorma_common.naming import PLATFORM_SOURCE, pending_request_key

#: `status` of a request still waiting for its reply.
PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request an agent sent: what its reply must match."""

    requester: str
    request_id: str
    request_type: str
    response_event: str | None
    response_topic: str
    correlation_id: str
    #: When the timeout reply is due (`soorma.deadlines`), or None: no deadline.
    deadline: str | None = None
    #: The request's tenant and user: its reply must carry the same.
    tenant_id: str | None = None
    user_id: str | None = None
    #: False for an item written before tenant and user were stored: they are not checked.
    scoped: bool = True


def sent_requests(agent: str, wires: Iterable[Mapping[str, Any]]) -> list[SentRequest]:
    """The requests among an agent's outgoing events (wire form): those on `action-requests`
    addressed back to it (`replyto`), as `bus.request` publishes them."""
    found = []
    for wire in wires:
        if wire.get("replyto") == agent and wire.get("topic") == "action-requests":
            response_event = wire.get("responseevent")
            found.append(
                SentRequest(
                    agent,
                    str(wire["id"]),
                    str(wire["type"]),
                    str(response_event) if response_event else None,
                    str(wire.get("responsetopic") or "action-results"),
                    str(wire.get("correlationid") or wire["id"]),
                    str(wire["deadline"]) if wire.get("deadline") else None,
                    _optional(wire.get("tenantid")),
                    _optional(wire.get("userid")),
                )
            )
    return found


class PendingRequests(Protocol):
    """Where an agent's sent requests are kept until their reply (one item per request)."""

    def record(self, requests: Sequence[SentRequest]) -> None:
        """Keep these requests (an existing item is left as it is). Raises when it cannot
        (the record that sent them is then retried, or dead-lettered for a `PermanentError`)."""
        ...

    def find(self, requester: str, request_id: str) -> SentRequest | None:
        """The request `request_id` that `requester` sent, or None."""
        ...

    def decide(self, request: SentRequest, reply: EventEnvelope) -> bool:
        """Whether `reply` is the one answer of `request` delivered (its reply or its timeout):
        the first to decide wins; the same reply asking again (a redelivery) still wins."""
        ...


class DynamoDBPendingRequests:
    """Pending requests in the idempotency table (`pending_request_key`), kept `ttl_seconds`."""

    def __init__(self, table: str, *, ttl_seconds: int, dynamodb_client: Any = None) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds
        self._client = dynamodb_client

    @property
    def client(self) -> Any:
        """The boto3 DynamoDB client used (default: the process's)."""
        if self._client is None:
            from soorma import clients

            self._client = clients.client("dynamodb")
        return self._client

    def record(self, requests: Sequence[SentRequest]) -> None:
        """One conditional `PutItem` per request (`attribute_not_exists(id)`)."""
        now = int(time.time())
        for request in requests:
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=_item(request, now, expires_at(request, now, self.ttl_seconds)),
                    ConditionExpression="attribute_not_exists(id)",
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # recorded by the first flush: a re-flush changes nothing

    def find(self, requester: str, request_id: str) -> SentRequest | None:
        """One consistent `GetItem`."""
        item = self.client.get_item(
            TableName=self.table,
            Key={"id": {"S": pending_request_key(requester, request_id)}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return SentRequest(
            requester,
            request_id,
            item["request_type"]["S"],
            item["response_event"]["S"] if "response_event" in item else None,
            item["response_topic"]["S"],
            item["correlation_id"]["S"],
            item["deadline"]["S"] if "deadline" in item else None,
            item.get("tenant_id", {}).get("S"),
            item.get("user_id", {}).get("S"),
            scoped="tenant_id" in item,
        )

    def decide(self, request: SentRequest, reply: EventEnvelope) -> bool:
        """One conditional `UpdateItem`: `PENDING -> ANSWERED | TIMED_OUT`, `decided_by` and
        `decided_by_source` = the reply's id and source (a redelivery of the winner passes the
        condition again; another source's reply reusing its id does not). A request decided
        before the source was recorded is matched on the id alone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"id": {"S": pending_request_key(request.requester, request.request_id)}},
                UpdateExpression="SET #status = :outcome, decided_by = :reply, "
                "decided_by_source = :source",
                ConditionExpression="#status = :pending OR (decided_by = :reply AND "
                "(attribute_not_exists(decided_by_source) OR decided_by_source = :source))",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":outcome": {"S": _outcome(reply)},
                    ":reply": {"S": reply.id},
                    ":source": {"S": reply.source},
                    ":pending": {"S": PENDING},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class InMemoryPendingRequests:
    """Pending requests in a dict (tests, the in-memory bus)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], SentRequest] = {}
        self.decided: dict[tuple[str, str], tuple[str, str]] = {}

    def record(self, requests: Sequence[SentRequest]) -> None:
        """Keep the requests not kept yet."""
        for request in requests:
            self.requests.setdefault((request.requester, request.request_id), request)

    def find(self, requester: str, request_id: str) -> SentRequest | None:
        """The request, or None."""
        return self.requests.get((requester, request_id))

    def decide(self, request: SentRequest, reply: EventEnvelope) -> bool:
        """The first reply (or timeout) to decide wins (by its source and id)."""
        answer = (reply.source, reply.id)
        return self.decided.setdefault((request.requester, request.request_id), answer) == answer


def check_reply(
    reply: EventEnvelope, agent: str, source: str, requests: PendingRequests
) -> SentRequest:
    """The request `reply` answers; raise `ForgedReplyError` (permanent) unless it follows the
    rules of this module's docstring."""
    request = requests.find(agent, reply.causation_id) if reply.causation_id else None
    if request is None:
        raise ForgedReplyError(
            f"reply {reply.id!r} ({reply.type!r} from {reply.source!r}) to {agent!r} names "
            f"causation_id {reply.causation_id!r}, which is no request {agent!r} sent: a reply's "
            "causation_id must be its request's id (context.bus.respond sets it)"
        )
    differs = _differences(request, reply)
    if differs:
        raise ForgedReplyError(
            f"reply {reply.id!r} ({reply.type!r} from {reply.source!r}) to request "
            f"{request.request_id!r} of {agent!r} has {'; '.join(differs)}: a reply carries its "
            "request's correlation_id, tenant_id and user_id (context.bus.respond keeps them)"
        )
    if reply.source == PLATFORM_SOURCE:
        return request
    if request.response_event is not None and reply.type != request.response_event:
        raise ForgedReplyError(
            f"reply {reply.id!r} to request {request.request_id!r} has type {reply.type!r}, "
            f"but {agent!r} asked for {request.response_event!r} (its response_event)"
        )
    if reply.source == source:
        raise ForgedReplyError(
            f"reply {reply.id!r} to request {request.request_id!r} comes from the requester "
            f"itself ({source!r}): a request is answered by another agent"
        )
    return request


def expires_at(request: SentRequest, now: int, ttl_seconds: int) -> int:
    """When a pending request's item may go (its TTL attribute): `ttl_seconds` from now, and for
    a request with a deadline at least `DEADLINE_MARGIN_SECONDS` after it (Scheduler fires late
    and retries; DynamoDB may delete an item any time after its TTL)."""
    ttl = now + ttl_seconds
    if request.deadline is None:
        return ttl
    try:
        due = deadline_time(request.deadline)
    except ValueError:  # refused before it is recorded (`check_deadline`); keep the TTL
        return ttl
    return max(ttl, int(due.timestamp()) + DEADLINE_MARGIN_SECONDS)


def _differences(request: SentRequest, reply: EventEnvelope) -> list[str]:
    """What of correlation, tenant and user `reply` does not share with `request`, as text."""
    pairs: list[tuple[str, str | None, str | None]] = [
        ("correlation_id", request.correlation_id, reply.correlation_id)
    ]
    if request.scoped:
        pairs += [
            ("tenant_id", request.tenant_id, reply.tenant_id),
            ("user_id", request.user_id, reply.user_id),
        ]
    return [
        f"{name} {str(got)[:80]!r} where the request has {str(want)[:80]!r}"
        for name, want, got in pairs
        if got != want
    ]


def _optional(value: Any) -> str | None:
    return str(value) if value is not None else None


def _string_or_null(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _item(request: SentRequest, now: int, expires_at: int) -> dict[str, Any]:
    item = {
        "id": {"S": pending_request_key(request.requester, request.request_id)},
        "status": {"S": PENDING},
        "requester": {"S": request.requester},
        "request_type": {"S": request.request_type},
        "response_topic": {"S": request.response_topic},
        "correlation_id": {"S": request.correlation_id},
        "tenant_id": _string_or_null(request.tenant_id),
        "user_id": _string_or_null(request.user_id),
        "sent_at": {"N": str(now)},
        TTL_ATTRIBUTE: {"N": str(expires_at)},
    }
    if request.response_event is not None:
        item["response_event"] = {"S": request.response_event}
    if request.deadline is not None:
        item["deadline"] = {"S": request.deadline}
    return item


def _outcome(reply: EventEnvelope) -> str:
    return "TIMED_OUT" if reply.source == PLATFORM_SOURCE else "ANSWERED"
