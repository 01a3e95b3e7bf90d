"""`LambdaRuntime`: an SQS batch of EventBridge events in, partial batch response out.

Per record: parse, check the source, bind logs, claim (exactly once), run the handler with a
buffered bus, store the outgoing events with the claim, then flush them. Permanent failures go
to the queue's DLQ at once and count as done; transient ones are reported in `batchItemFailures`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soorma.bus import BusClient, PayloadValidator
from soorma.config import Settings, settings
from soorma.context import PlatformContext
from soorma.publishing import EventBridgePublisher, GroupOutcome
from soorma.runtime.claims import ClaimStore, WireEvents, claim_key
from soorma.runtime.dead_letters import DeadLetterSender
from soorma.runtime.records import DeliveredEvent, parse_record
from soorma.runtime.telemetry import RuntimeTelemetry
from soorma.tracing import span, tracing_active
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import DomainError, NoHandlerError, PermanentError
from soorma_common.replies import failure_reply, is_failure_reply
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from soorma.agent_spec import HandlerSpec
    from soorma.agents.base import Agent


class LambdaRuntime:
    """Runs one agent's handlers for SQS batches. Every I/O seam can be replaced (tests, benchmarks,
    the in-memory transport): `publisher`, `dead_letters`, `claims` (None = no idempotency),
    `validate_payload` (the registry's schema check on consume and publish)."""

    def __init__(
        self,
        agent: Agent,
        *,
        publisher: EventBridgePublisher | None = None,
        dead_letters: DeadLetterSender | None = None,
        claims: ClaimStore | bool | None = True,
        validate_payload: PayloadValidator | None = None,
        conf: Settings | None = None,
    ) -> None:
        self.agent = agent
        self.settings = conf or settings()
        self.publisher = publisher or EventBridgePublisher(self.settings.event_bus)
        self.dead_letters = dead_letters or DeadLetterSender()
        self.claims = self._default_claims() if claims is True else (claims or None)
        self.validate_payload = validate_payload or _registry_validator(agent)
        self.telemetry = RuntimeTelemetry(agent.name)
        self._produced = agent.produced_event_names()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Encoded `Detail` of the events this batch's handlers published, by event id.
        self._details: dict[str, str] = {}
        self._processor: Any = None

    def _default_claims(self) -> ClaimStore | None:
        table = self.settings.idempotency_table
        if not (self.settings.idempotency and table):
            return None
        return ClaimStore(table, expires_after_seconds=self.settings.idempotency_ttl_seconds)

    # ---- the batch ------------------------------------------------------------------------

    def handle_batch(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Process an SQS event; return `{"batchItemFailures": [{"itemIdentifier": id}, ...]}`."""
        BatchProcessor, EventType, process_partial_response = _batch_utilities()
        if self._processor is None:
            self._processor = BatchProcessor(
                event_type=EventType.SQS, raise_on_entire_batch_failure=False
            )
        if self.claims is not None:
            self.claims.register_lambda_context(lambda_context)

        traced = tracing_active()  # read once per invocation, not per record
        self.telemetry.begin_batch()
        handled: list[tuple[dict[str, Any], str, WireEvents]] = []  # (record, type, events)

        def record_handler(record: Any) -> None:
            outgoing = self.handle_record(
                record.raw_event, lambda_context, traced=traced, flush=False
            )
            if outgoing:
                handled.append((record.raw_event, *outgoing))

        try:
            response = dict(
                process_partial_response(
                    event=event,
                    record_handler=record_handler,
                    processor=self._processor,
                    context=lambda_context,
                )
            )
            unflushed = self._flush(handled)
            if unflushed:
                response["batchItemFailures"] = [
                    *response.get("batchItemFailures", []),
                    *({"itemIdentifier": message_id} for message_id in unflushed),
                ]
            return response
        finally:
            self._details.clear()
            self.telemetry.unbind()
            self.telemetry.flush()

    def handle_record(
        self,
        record: dict[str, Any],
        lambda_context: Any = None,
        *,
        traced: bool | None = None,
        flush: bool = True,
    ) -> tuple[str, WireEvents] | None:
        """Handle one raw SQS record; raise to report it failed (transient errors only).

        With `flush=False` the outgoing events are returned as `(event type, events)` instead
        of being put, for the batch to put them together once every record is handled.
        """
        try:
            delivered = parse_record(record)
        except PermanentError as exc:
            self.telemetry.unbind()
            self._dead_letter(record, exc, "unparsed")
            return None
        envelope = delivered.envelope
        # Binding overwrites the previous record's keys; the batch unbinds once at its end.
        self.telemetry.bind(envelope)
        try:
            if traced if traced is not None else tracing_active():
                with span(f"## {envelope.type}", _annotations(envelope)):
                    outgoing = self._handle_once(delivered, lambda_context)
                    if flush:
                        self.publisher.put_wire(outgoing)
            else:
                outgoing = self._handle_once(delivered, lambda_context)
                if flush:
                    self.publisher.put_wire(outgoing)
        except PermanentError as exc:
            self._dead_letter(record, exc, envelope.type)
            return None
        except Exception:
            self.telemetry.count("failed", envelope.type)
            self.telemetry.logger.exception("event failed; it will be retried")
            raise
        self.telemetry.count("handled", envelope.type)
        if outgoing and flush:
            self.telemetry.count("published", envelope.type)
        return (envelope.type, outgoing) if outgoing else None

    def _flush(self, handled: list[tuple[dict[str, Any], str, WireEvents]]) -> list[str]:
        """Put the events of every handled record of the batch together (10 per PutEvents
        across records); return the message ids of records whose events could not all be put.

        Those records' claims are complete, so their redelivery re-flushes the stored events
        (same ids) without running the handler again. A record with an oversized event is
        dead-lettered (permanent), none of its events sent.
        """
        if not handled:
            return []
        self.telemetry.unbind()
        try:
            outcome = self.publisher.put_groups([events for _, _, events in handled], self._details)
            failed = set(outcome.failed)
        except Exception:
            self.telemetry.logger.exception("PutEvents failed; the batch's records will be retried")
            outcome, failed = GroupOutcome(), set(range(len(handled)))
        unflushed = []
        for index, (record, event_type, _) in enumerate(handled):
            if index in outcome.too_large:
                self._dead_letter(record, outcome.too_large[index], event_type)
            elif index in failed:
                unflushed.append(str(record.get("messageId", "")))
                self.telemetry.count("failed", event_type)
                self.telemetry.logger.error(
                    "events not published; the record will be retried",
                    extra={
                        "message_id": record.get("messageId"),
                        "event_type": event_type,
                        "error_codes": self.publisher.last_error_codes,
                    },
                )
            else:
                self.telemetry.count("published", event_type)
        return unflushed

    def _dead_letter(self, record: dict[str, Any], error: PermanentError, event_type: str) -> None:
        self.telemetry.logger.error(
            "permanent failure: sent to the dead-letter queue",
            extra={
                "reason": str(error),
                "error_type": type(error).__name__,
                "message_id": record.get("messageId"),
            },
        )
        self.dead_letters.send(record, error)
        self.telemetry.count("dead_lettered", event_type)

    # ---- one event ------------------------------------------------------------------------

    def _handle_once(self, delivered: DeliveredEvent, lambda_context: Any) -> WireEvents:
        envelope = delivered.envelope
        spec = self.agent.find_handler(envelope)
        if spec is None:
            raise NoHandlerError(
                f"agent {self.agent.name!r} has no handler for {envelope.type!r} on "
                f"{envelope.topic.value}; subscribe with @on_event or fix the rule"
            )
        if self.validate_payload is not None and not is_failure_reply(envelope.data):
            self.validate_payload(envelope.type, envelope.data)

        def work() -> WireEvents:
            return self.run_handler(spec, delivered, lambda_context)

        if self.claims is None:
            return work()
        key = claim_key(self.agent.name, envelope.id, delivered.replay_name)
        return self.claims.run_once(key, work)

    def run_handler(
        self, spec: HandlerSpec, delivered: DeliveredEvent, lambda_context: Any
    ) -> WireEvents:
        """Run the handler with a buffered bus; return the events it published (wire form)."""
        envelope = delivered.envelope
        bus = BusClient(
            self.agent.name,
            self.agent.source,
            handled=envelope,
            replay=delivered.replay_name,
            produced=self._produced,
            validate_payload=self.validate_payload,
            max_event_bytes=self.settings.max_event_bytes,
        )
        context = PlatformContext(
            self.agent, envelope, bus, lambda_context, logger=self.telemetry.logger
        )
        try:
            result = self._call(spec.function, envelope, context)
            if spec.replies_with_result and result is not None:
                self._reply(bus, spec, result)
        except DomainError as exc:
            if not envelope.response_event:
                raise
            bus = BusClient(
                self.agent.name,
                self.agent.source,
                handled=envelope,
                replay=delivered.replay_name,
                produced=self._produced,
                max_event_bytes=self.settings.max_event_bytes,
            )
            self._reply(bus, spec, failure_reply(str(exc)))
        self._details.update(bus.encoded_details)
        return bus.wire_events()

    def _reply(self, bus: BusClient, spec: HandlerSpec, data: Any) -> None:
        request = bus.handled
        assert request is not None
        response_event = request.response_event or spec.response_event
        if not response_event:
            return
        bus.respond(
            response_event,
            data,
            correlation_id=request.correlation_id,
            topic=request.response_topic or EventTopic.ACTION_RESULTS,
        )

    def _call(self, function: Callable[..., Any], envelope: Any, context: PlatformContext) -> Any:
        result = function(envelope, context)
        if result is not None and inspect.isawaitable(result):
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(_await(result))
        return result


def _batch_utilities() -> tuple[Any, Any, Any]:
    """Powertools' `BatchProcessor`, `EventType` and `process_partial_response`, imported once.

    Powertools' `batch/types.py` imports every parser model (SQS, Kinesis, DynamoDB, Kafka: tens
    of pydantic models built at import) when it sees pydantic already imported, for type hints
    only. Soorma always has pydantic loaded, so the batch package is imported with pydantic
    hidden from `sys.modules` for that moment: the batch package itself never imports pydantic
    (checked below), and the cold start saves the parser models we do not use.
    """
    module: Any = sys.modules.get("aws_lambda_powertools.utilities.batch")
    if module is None:
        pydantic = sys.modules.pop("pydantic", None)
        try:
            module = importlib.import_module("aws_lambda_powertools.utilities.batch")
        finally:
            if pydantic is not None:
                reloaded = sys.modules.get("pydantic")
                sys.modules["pydantic"] = pydantic
                if reloaded is not None and reloaded is not pydantic:  # pragma: no cover
                    raise ImportError("Powertools batch imported pydantic anew; update Soorma")
    return module.BatchProcessor, module.EventType, module.process_partial_response


def _annotations(envelope: EventEnvelope) -> dict[str, str | None]:
    return {
        "event_type": envelope.type,
        "topic": envelope.topic.value,
        "correlation_id": envelope.correlation_id,
        "tenant_id": envelope.tenant_id,
    }


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _registry_validator(agent: Agent) -> PayloadValidator | None:
    """The registry's payload check for this agent, when the registry module provides one."""
    try:
        from soorma.registry.validation import validator_for_agent
    except ImportError:
        return None
    validator: PayloadValidator | None = validator_for_agent(agent)
    return validator
