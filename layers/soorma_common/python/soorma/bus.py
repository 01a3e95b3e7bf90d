"""`BusClient`: publishing from inside a handler.

Nothing is sent while the handler runs: events are buffered, given deterministic ids, and flushed
by the runtime only when the handler succeeds (and dropped when it fails). Because publishing is
buffered, every method returns at once; the returned `EventId` may be awaited (`await
context.bus.publish(...)`) or used as it is, so `def` and `async def` handlers share one API.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Generator
from typing import Any

from soorma.config import settings
from soorma.deadlines import check_deadline, deadline_after
from soorma.outbox import MAX_STORED_OUTBOX_BYTES, stored_event_size, stored_size
from soorma.publishing import OutgoingEvent, encode_event
from soorma.request_checks import unreachable_reply
from soorma_common.envelope import EXTENSION_WIRE_NAMES, EventEnvelope, wire_of
from soorma_common.errors import (
    DeadlinesNotConfiguredError,
    InvalidEnvelopeError,
    OutboxNotStorableError,
    SoormaError,
    TrustViolationError,
    UndeclaredEventError,
    UnreachableReplyError,
)
from soorma_common.replies import is_failure_reply
from soorma_common.topics import EventTopic

_ID_NAMESPACE = uuid.UUID("6f0b7c1e-2d0a-4a8e-9c53-50a1ec7a0b5e")

#: Checks a payload against its event's schema (registry), raising a permanent error.
PayloadValidator = Callable[[str, Any], None]

#: What all the events one handler publishes may take in their stored form (`soorma.outbox`):
#: they are stored together in one idempotency record, and DynamoDB items cap at 400 KB.
MAX_OUTBOX_BYTES = MAX_STORED_OUTBOX_BYTES

#: Envelope attributes a publisher never passes as keywords: the bus sets them (`id`, `source`,
#: `time`, ...) or `publish` takes them as its own arguments (`type` is `event_type`).
_RESERVED = frozenset(
    {"id", "source", "specversion", "type", "time", "datacontenttype", "hop_count", "hopcount"}
)
#: Wire spelling -> Python name, for extension attributes passed by their wire name.
_PYTHON_NAMES = {wire: name for name, wire in EXTENSION_WIRE_NAMES.items() if wire != name}


class EventId(str):
    """The id of a buffered event. A `str` that can also be awaited (it resolves to itself)."""

    def __await__(self) -> Generator[Any, None, EventId]:
        return self
        yield  # pragma: no cover - makes this a generator


def derived_event_id(
    agent: str, parent_source: str, parent_id: str, position: int, replay: str | None = None
) -> str:
    """The id of the `position`-th event `agent` publishes while handling the event
    `parent_id` from `parent_source` (CloudEvents makes source and id together unique, so
    another source's event with the same id gets other ids).

    The same inputs give the same id, so a retried handler republishes the same ids and
    consumers drop the duplicates. An EventBridge replay gets new ids on purpose. The id is
    `uuid.uuid5(namespace, name)`, the name the inputs joined by `\\x1f` (which no CloudEvents
    string holds), computed without building `uuid.UUID` objects.
    """
    name = f"{agent}\x1f{parent_source}\x1f{parent_id}\x1f{replay or ''}\x1f{position}"
    digest = hashlib.sha1(_ID_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    # RFC 4122 version 5 and variant bits, as uuid.UUID(bytes=..., version=5) sets them.
    number = (
        int.from_bytes(digest[:16], "big") & _CLEAR_VERSION_AND_VARIANT | _VERSION_5_AND_VARIANT
    )
    h = f"{number:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes
#: The stored size of an empty outbox (`[]`), where every bus starts counting.
_EMPTY_OUTBOX_BYTES = stored_size(())
_CLEAR_VERSION_AND_VARIANT = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_5_AND_VARIANT = (0x8000 << 48) | (5 << 76)


class BusClient:
    """Buffered publisher bound to one agent and, inside a handler, to the event being handled."""

    def __init__(
        self,
        agent: str,
        source: str,
        *,
        handled: EventEnvelope | None = None,
        replay: str | None = None,
        produced: frozenset[str] | None = None,
        validate_payload: PayloadValidator | None = None,
        max_event_bytes: int | None = None,
        reply_topics: frozenset[EventTopic] | None = None,
        timeouts: bool = False,
    ) -> None:
        self.agent = agent
        #: Whether `request(..., timeout=)` can set a deadline (the runtime has a scheduler).
        self.timeouts = timeouts
        #: The topics the agent's result handlers listen on (`request` refuses a response topic
        #: outside them); None: not known, nothing is checked.
        self.reply_topics = reply_topics
        self.source = source
        self.handled = handled
        self._replay = replay
        self._produced = produced
        self._validate_payload = validate_payload
        self._outbox: list[OutgoingEvent] = []  # encoded and measured once, at publish
        self._stored_bytes = _EMPTY_OUTBOX_BYTES
        self.max_event_bytes = max_event_bytes or settings().max_event_bytes

    @property
    def outbox(self) -> list[EventEnvelope]:
        """The events buffered so far, in publish order, as they will be put (read back from
        their encoded `Detail`: a payload changed after publishing does not change them)."""
        return [EventEnvelope.from_json(event.detail) for event in self._outbox]

    def outgoing_events(self) -> list[OutgoingEvent]:
        """The buffered events, encoded and measured (what the runtime flushes), in order."""
        return list(self._outbox)

    def next_event_id(self, position: int | None = None) -> str:
        """The id the event published at `position` (default: the next one) will have, while
        handling an event: ids are derived from the agent, the handled event (source and id), the
        position and the replay, so a redelivery publishes the same ids (`derived_event_id`)."""
        if self.handled is None:
            raise RuntimeError("event ids are derived only while handling an event")
        at = len(self._outbox) if position is None else position
        handled = self.handled
        return derived_event_id(self.agent, handled.source, handled.id, at, self._replay)

    def wire_events(self) -> list[dict[str, Any]]:
        """The buffered events in wire form, in order, as they will be put."""
        return [json.loads(event.detail) for event in self._outbox]

    def publish(
        self,
        topic: EventTopic | str,
        event_type: str,
        data: Any = None,
        *,
        correlation_id: str | None = None,
        response_event: str | None = None,
        response_topic: EventTopic | str | None = None,
        **attributes: Any,
    ) -> EventId:
        """Buffer one event on `topic` (required). Returns its id.

        Inside a handler: correlation, tenant and user are the handled event's (passing a
        different value raises `TrustViolationError`); session, plan and goal default to the
        handled event's; `causation_id` is the handled event's id unless given; the hop count is
        the handled event's plus one. Whatever is wrong with the event is a permanent error
        naming the attribute (`InvalidEnvelopeError` and the other `PermanentError`s), raised
        here, so that the handler fails before anything is stored.
        """
        try:
            if "deadline" in attributes:  # by hand, or request(timeout=)'s: one bound for both
                most = settings().idempotency_ttl_seconds  # the pending request's lifetime
                check_deadline(attributes["deadline"], most=most)
            return self._publish(
                topic, event_type, data, correlation_id, response_event, response_topic, attributes
            )
        except SoormaError:
            raise
        except (ValueError, TypeError) as exc:  # a check below the contract's: still permanent
            raise InvalidEnvelopeError(
                f"publish({str(event_type)[:140]!r}) on {str(topic)[:40]!r}: the event is not "
                f"valid ({type(exc).__name__}: {str(exc)[:300]}); fix the call"
            ) from exc

    def _publish(
        self,
        topic: EventTopic | str,
        event_type: str,
        data: Any,
        correlation_id: str | None,
        response_event: str | None,
        response_topic: EventTopic | str | None,
        attributes: dict[str, Any],
    ) -> EventId:
        if type(event_type) is not str:
            event_type = str(event_type)
        if type(topic) is not EventTopic:
            topic = EventTopic.parse(topic)
        if self._produced is not None and event_type not in self._produced:
            raise UndeclaredEventError(
                f"agent {self.agent!r} may not publish {event_type!r}: it is not in its "
                f"events_produced ({', '.join(sorted(self._produced)) or 'none'}); add it there"
            )
        if attributes:
            attributes = _python_names(attributes)
        if self._validate_payload is not None and not is_failure_reply(
            data,
            topic=topic,
            reply_to=attributes.get("reply_to"),
            response_event=response_event or attributes.get("response_event"),
        ):
            self._validate_payload(event_type, data)
        if correlation_id is not None or "correlation_id" not in attributes:
            attributes["correlation_id"] = correlation_id
        if response_event is not None:
            attributes["response_event"] = response_event
        if response_topic is not None:
            attributes["response_topic"] = EventTopic.parse(response_topic)
        fields = self._inherit(attributes)
        handled = self.handled
        if handled is None:
            wire = EventEnvelope(
                source=self.source, type=event_type, topic=topic, data=data, **fields
            ).to_wire()
        else:
            event_id = derived_event_id(
                self.agent, handled.source, handled.id, len(self._outbox), self._replay
            )
            fields.pop("id", None)  # inside a handler ids are always derived
            # A reply sent after a fan-in names its request, not the last result it handled.
            fields.setdefault("causation_id", handled.id)
            fields["hop_count"] = (handled.hop_count or 0) + 1
            # Inside a handler every inherited value is the validated handled event's: the wire
            # form is written directly, the model validating only what it cannot vouch for.
            wire = wire_of(event_id, self.source, event_type, topic, data, fields) or (
                EventEnvelope(
                    id=event_id,
                    source=self.source,
                    type=event_type,
                    topic=topic,
                    data=data,
                    **fields,
                ).to_wire()
            )
        self._outbox.append(self._encode(wire))
        return EventId(wire["id"])

    def _encode(self, wire: dict[str, Any]) -> OutgoingEvent:
        """Encode the event and refuse, at publish time, an event or an outbox too large to send
        or to store: a permanent error inside the handler releases the claim, so a redelivery
        after the fix runs the handler again. The outbox is measured in its stored form
        (`soorma.outbox`), from the events' sizes alone."""
        event = encode_event(wire, self.max_event_bytes)
        self._stored_bytes += stored_event_size(event.size)
        if self._stored_bytes > MAX_STORED_OUTBOX_BYTES:
            raise OutboxNotStorableError(
                f"the {len(self._outbox) + 1} events published while handling one event take "
                f"{self._stored_bytes} bytes as stored with its claim, over the "
                f"{MAX_STORED_OUTBOX_BYTES}-byte budget of one idempotency record (DynamoDB "
                "items cap at 400 KB; each event is stored as base64, 4/3 of its size): publish "
                "fewer or smaller events, e.g. references to payloads stored in S3"
            )
        return event

    def request(
        self,
        event_type: str,
        data: Any,
        response_event: str,
        *,
        correlation_id: str | None = None,
        response_topic: EventTopic | str | None = None,
        timeout: float | None = None,
        **attributes: Any,
    ) -> EventId:
        """Ask for work on `action-requests`; the reply comes back as `response_event`, to us,
        on `response_topic` (default `action-results`, where `on_result` listens).

        With `timeout` (seconds), when no reply has come by then the result handler gets the
        timeout reply instead (`{"success": false, "error": "timeout"}` from `soorma.platform`),
        and a reply after it is not delivered: exactly one of the two is (`soorma.deadlines`).

        The response topic (given, or the default) must be one where this agent has a result
        handler (inside the runtime), else `UnreachableReplyError` (permanent): the reply would
        be lost.
        """
        if not response_event:
            raise InvalidEnvelopeError(
                f"request({event_type!r}) needs a response_event: the event type the reply "
                "should carry (e.g. response_event='<domain>.done')"
            )
        topic = EventTopic.ACTION_RESULTS
        if response_topic is not None:
            topic = EventTopic.parse(response_topic)
        attributes.setdefault("reply_to", self.agent)
        if timeout is not None:
            if not self.timeouts:
                raise DeadlinesNotConfiguredError(
                    f"request({event_type!r}, timeout=...): deadlines need a handler deployed by "
                    "the stack (its Scheduler role, SOORMA_DEADLINE_ROLE_ARN) or a test harness; "
                    "outside handlers, wait for the reply with EventPublisher instead"
                )
            most = settings().idempotency_ttl_seconds  # the pending request's lifetime
            attributes["deadline"] = deadline_after(timeout, most=most)
        if self.reply_topics is not None and topic not in self.reply_topics:
            raise UnreachableReplyError(
                unreachable_reply(event_type, topic, response_topic, self.agent, self.reply_topics)
            )
        return self.publish(
            EventTopic.ACTION_REQUESTS,
            event_type,
            data,
            correlation_id=correlation_id,
            response_event=response_event,
            response_topic=topic,
            **attributes,
        )

    def respond(
        self,
        event_type: str,
        data: Any,
        correlation_id: str,
        topic: EventTopic | str = EventTopic.ACTION_RESULTS,
        **attributes: Any,
    ) -> EventId:
        """Reply on `action-results` (or `topic`), addressed to the request's `reply_to`."""
        if self.handled is not None:
            attributes.setdefault("reply_to", self.handled.reply_to)
        return self.publish(topic, event_type, data, correlation_id=correlation_id, **attributes)

    def announce(
        self, event_type: str, data: Any, *, correlation_id: str | None = None, **attributes: Any
    ) -> EventId:
        """Publish a domain fact on `business-facts`; no reply is expected."""
        return self.publish(
            EventTopic.BUSINESS_FACTS, event_type, data, correlation_id=correlation_id, **attributes
        )

    def _inherit(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """Apply the trust rules: pinned attributes are the handled event's, others inherited."""
        fields = {k: v for k, v in attributes.items() if v is not None}
        handled = self.handled
        if handled is None:
            return fields
        for name, value in (
            ("correlation_id", handled.correlation_id),
            ("tenant_id", handled.tenant_id),
            ("user_id", handled.user_id),
        ):
            given = fields.get(name)
            if given is None:
                if value is not None:
                    fields[name] = value
            elif given != value:
                raise TrustViolationError(
                    f"{name} is {value!r} for the event being handled ({handled.id}); a handler "
                    f"cannot publish with {name}={given!r}. Leave it out: it is carried over"
                )
        for name, value in (
            ("session_id", handled.session_id),
            ("plan_id", handled.plan_id),
            ("goal_id", handled.goal_id),
            ("trace_id", handled.trace_id),
        ):
            if value is not None and name not in fields:
                fields[name] = value
        return fields


def _python_names(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes by their Python names (`tenantid` -> `tenant_id`), so that the trust rules see
    them whatever the spelling; reserved attributes are refused (permanent error)."""
    reserved = sorted(_RESERVED & attributes.keys())
    if reserved:
        raise InvalidEnvelopeError(
            f"publish() sets {', '.join(reserved)} itself; remove {reserved[0]}= from the call "
            "(the event type, topic and data are publish()'s own arguments)"
        )
    return {_PYTHON_NAMES.get(name, name): value for name, value in attributes.items()}
