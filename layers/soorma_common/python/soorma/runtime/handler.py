"""`LambdaRuntime`: an SQS batch of EventBridge events in, partial batch response out.

Per record: parse, check the source, bind logs, claim (exactly once), run the handler with a
buffered bus, store the outgoing events with the claim, then flush them. Permanent failures go
to the queue's DLQ at once and count as done; transient ones are reported in `batchItemFailures`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soorma_common.errors import DomainError, NoHandlerError, PermanentError
from soorma_common.topics import EventTopic

from soorma.bus import BusClient, PayloadValidator
from soorma.config import Settings, settings
from soorma.context import PlatformContext
from soorma.publishing import EventBridgePublisher
from soorma.runtime.claims import ClaimStore, WireEvents, claim_key
from soorma.runtime.dead_letters import DeadLetterSender
from soorma.runtime.records import DeliveredEvent, parse_record
from soorma.runtime.telemetry import RuntimeTelemetry
from soorma.tracing import span

if TYPE_CHECKING:  # pragma: no cover
    from soorma.agents.base import Agent, HandlerSpec


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
        claims: ClaimStore | None | bool = True,
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
        self._processor: Any = None

    def _default_claims(self) -> ClaimStore | None:
        table = self.settings.idempotency_table
        if not (self.settings.idempotency and table):
            return None
        return ClaimStore(table, expires_after_seconds=self.settings.idempotency_ttl_seconds)

    # ---- the batch ------------------------------------------------------------------------

    def handle_batch(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Process an SQS event; return `{"batchItemFailures": [{"itemIdentifier": id}, ...]}`."""
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        if self._processor is None:
            self._processor = BatchProcessor(
                event_type=EventType.SQS, raise_on_entire_batch_failure=False
            )
        if self.claims is not None:
            self.claims.register_lambda_context(lambda_context)

        def record_handler(record: Any) -> None:
            self.handle_record(record.raw_event, lambda_context)

        try:
            return dict(
                process_partial_response(
                    event=event,
                    record_handler=record_handler,
                    processor=self._processor,
                    context=lambda_context,
                )
            )
        finally:
            self.telemetry.flush()

    def handle_record(self, record: dict[str, Any], lambda_context: Any = None) -> None:
        """Handle one raw SQS record; raise to report it failed (transient errors only)."""
        logger = self.telemetry.logger
        try:
            delivered = parse_record(record)
        except PermanentError as exc:
            self._dead_letter(record, exc, "unparsed")
            return
        envelope = delivered.envelope
        self.telemetry.bind(envelope)
        try:
            with span(
                f"## {envelope.type}",
                {"event_type": envelope.type, "topic": envelope.topic.value,
                 "correlation_id": envelope.correlation_id, "tenant_id": envelope.tenant_id},
            ):
                outgoing = self._handle_once(delivered, lambda_context)
                self.publisher.put_wire(outgoing)
        except PermanentError as exc:
            self._dead_letter(record, exc, envelope.type)
            return
        except Exception:
            self.telemetry.count("failed", envelope.type)
            logger.exception("event failed; it will be retried")
            raise
        finally:
            self.telemetry.unbind()
        self.telemetry.count("handled", envelope.type)
        if outgoing:
            self.telemetry.count("published", envelope.type)

    def _dead_letter(self, record: dict[str, Any], error: PermanentError, event_type: str) -> None:
        self.telemetry.logger.error(
            "permanent failure: sent to the dead-letter queue",
            extra={"reason": str(error), "error_type": type(error).__name__,
                   "message_id": record.get("messageId")},
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
        if self.validate_payload is not None:
            self.validate_payload(envelope.type, envelope.data)

        def work() -> WireEvents:
            return self.run_handler(spec, delivered, lambda_context)

        if self.claims is None:
            return work()
        key = claim_key(self.agent.name, envelope.id, delivered.replay_name)
        return self.claims.run_once(key, work)

    def run_handler(self, spec: HandlerSpec, delivered: DeliveredEvent, lambda_context: Any) -> WireEvents:
        """Run the handler with a buffered bus; return the events it published (wire form)."""
        envelope = delivered.envelope
        bus = BusClient(
            self.agent.name,
            self.agent.source,
            handled=envelope,
            replay=delivered.replay_name,
            produced=self._produced,
            validate_payload=self.validate_payload,
        )
        context = PlatformContext(self.agent, envelope, bus, lambda_context)
        try:
            result = self._call(spec.function, envelope, context)
            if spec.replies_with_result and result is not None:
                self._reply(bus, spec, result)
        except DomainError as exc:
            if not envelope.response_event:
                raise
            bus = BusClient(
                self.agent.name, self.agent.source, handled=envelope,
                replay=delivered.replay_name, produced=self._produced,
            )
            self._reply(bus, spec, {"success": False, "error": str(exc)})
        return [e.to_wire() for e in bus.outbox]

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
        if inspect.isawaitable(result):
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(_await(result))
        return result


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
