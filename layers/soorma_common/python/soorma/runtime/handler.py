"""`LambdaRuntime`: an SQS batch of EventBridge events in, partial batch response out.

Per record: parse, check the source, bind logs, refuse an event over the hop limit (a loop) and a
reply to no request this agent sent, claim (exactly once), run the handler with a buffered bus,
store the outgoing events with the claim; once every record is handled, record the batch's
requests and flush the batch's events together. Permanent failures go to the queue's DLQ at once
and count as done; transient ones are reported in `batchItemFailures`. All I/O goes through one
`Transport`; each record's final outcome goes to the `on_outcome` observer, if any.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from soorma.agent_spec import AgentSpec, HandlerSpec
from soorma.bus import BusClient, PayloadValidator
from soorma.config import Settings, settings
from soorma.context import PlatformContext
from soorma.deadlines import Deadlines, requests_with_deadlines
from soorma.handled_scope import DEFAULT_TENANT, DEFAULT_USER, handling
from soorma.payload_checks import validator_for_agent
from soorma.publishing import EventBridgePublisher, OutgoingEvent
from soorma.requests import PendingRequests, check_reply, sent_requests
from soorma.runtime.aws_transport import AwsTransport
from soorma.runtime.claims import claim_key
from soorma.runtime.exactly_once import ExactlyOnce
from soorma.runtime.loops import loop_error, loop_notice
from soorma.runtime.outcomes import HandledRecord, Outcome, OutcomeObserver, RecordOutcome
from soorma.runtime.records import DeliveredEvent, parse_record, records_of
from soorma.runtime.telemetry import RuntimeTelemetry
from soorma.runtime.time_budget import BatchClock
from soorma.runtime.transport import SqsRecord, Transport
from soorma.tracing import span, tracing_active
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import DomainError, NoHandlerError, PermanentError, PublishError
from soorma_common.replies import failure_reply, is_failure_reply
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    import asyncio


class LambdaRuntime:
    """Runs one agent's handlers for SQS batches.

    `transport` does every I/O (default: `AwsTransport`, boto3); `on_outcome` is called once per
    record of every batch with a `RecordOutcome` (see `soorma.runtime.outcomes`); `conf` replaces
    the `SOORMA_*` settings of the process.
    """

    def __init__(
        self,
        agent: AgentSpec,
        *,
        transport: Transport | None = None,
        on_outcome: OutcomeObserver | None = None,
        conf: Settings | None = None,
    ) -> None:
        self.agent = agent
        self.settings = conf or settings()
        self.transport: Transport = transport or AwsTransport(self.settings)
        self.on_outcome = on_outcome
        self.claims = self.transport.claims
        #: Where the agent's sent requests are kept (a reply is checked against them); None
        #: (a transport without `pending_requests`): replies are not checked.
        self.pending_requests: PendingRequests | None = getattr(
            self.transport, "pending_requests", None
        )
        self.deadlines: Deadlines | None = getattr(self.transport, "deadlines", None)
        self.publisher = EventBridgePublisher(
            self.settings.event_bus,
            sink=self.transport,
            max_attempts=self.settings.publish_max_attempts,
            backoff_seconds=self.settings.publish_backoff_seconds,
        )
        #: The registry's payload check on consume and publish (None: nothing to check).
        self.validate_payload: PayloadValidator | None = validator_for_agent(agent)
        self.telemetry = RuntimeTelemetry(agent.name)
        self._produced = agent.produced_event_names()
        #: The agent's claims (claim-first or one-write: `agent.claims`); None without a store.
        self.exactly_once = (
            ExactlyOnce(
                self.claims,
                mode=agent.claims,
                ttl_seconds=self.settings.idempotency_ttl_seconds,
                source=agent.source,
                produced=self._produced,
                warn=lambda message, extra: self.telemetry.logger.warning(message, extra=extra),
            )
            if self.claims is not None
            else None
        )
        self._reply_topics = frozenset(s.topic for s in agent.subscriptions() if s.replies)
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- the batch ------------------------------------------------------------------------

    def handle_batch(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Process an SQS event; return `{"batchItemFailures": [{"itemIdentifier": id}, ...]}`.

        A direct loop producing Powertools' partial batch response (`BatchProcessor`'s, which
        it replaced: that frame cost more per record than the rest of the runtime's bookkeeping,
        and its import a share of the cold start): a record whose handling raises is reported
        by its message id, the others are handled; an empty list when every record is done.
        """
        records = records_of(event)
        if self.claims is not None:
            self.claims.register_lambda_context(lambda_context)
        traced = tracing_active()  # read once per invocation, not per record
        self.telemetry.begin_batch()
        handled: list[HandledRecord] = []
        failures: list[dict[str, str]] = []
        clock = BatchClock(lambda_context, self.settings.batch_stop_margin_ms)
        try:
            for index, record in enumerate(records):
                if not clock.may_start():
                    self._not_started(records[index:], clock, failures)
                    break
                try:
                    result = self.handle_record(record, lambda_context, traced=traced)
                except Exception:  # reported and logged by handle_record: retried
                    failures.append({"itemIdentifier": record["messageId"]})
                    continue
                if result is not None:
                    handled.append(result)
            for message_id in self._flush(handled):
                failures.append({"itemIdentifier": message_id})
            return {"batchItemFailures": failures}
        finally:
            self.telemetry.unbind()
            self.telemetry.flush()

    def handle_record(
        self, record: SqsRecord, lambda_context: Any = None, *, traced: bool | None = None
    ) -> HandledRecord | None:
        """Handle one raw SQS record of a batch, publishing nothing.

        Returns the record with the events its handler produced, for `handle_batch` to flush
        (and then to report handled, or failed when the flush fails); None when the record was
        dead-lettered (a permanent error; reported). Raises on a transient error, after
        reporting the record failed.
        """
        try:
            return self._handle_record(record, lambda_context, traced)
        except Exception as exc:
            self._report(record, "failed", exc)
            raise

    def _handle_record(
        self, record: SqsRecord, lambda_context: Any, traced: bool | None
    ) -> HandledRecord | None:
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
                    events = self._handle_once(delivered, lambda_context)
            else:
                events = self._handle_once(delivered, lambda_context)
        except PermanentError as exc:
            self._dead_letter(record, exc, envelope.type)
            return None
        except Exception:
            self.telemetry.count("failed", envelope.type)
            self.telemetry.logger.exception("event failed; it will be retried")
            raise
        self.telemetry.count("handled", envelope.type)
        return HandledRecord(record, envelope.type, events)

    def _flush(self, handled: list[HandledRecord]) -> list[str]:
        """Put the events of every handled record of the batch together (10 per PutEvents
        across records), report each record's outcome, and return the message ids of records
        whose events could not all be put.

        Those records' claims are complete, so their redelivery re-flushes the stored events
        (same ids) without running the handler again.
        """
        owners = [index for index, item in enumerate(handled) if item.events]
        failures: dict[int, PublishError] = {}
        if owners:
            self.telemetry.unbind()
            try:
                self._record_requests(handled[i].events for i in owners)
                outcome = self.publisher.put_groups([handled[i].events for i in owners])
                failures = {
                    owners[group]: _unflushed(f"error codes: {', '.join(codes)}")
                    for group, codes in outcome.failed.items()
                }
            except Exception as exc:
                self.telemetry.logger.exception(
                    "PutEvents failed; the batch's records will be retried"
                )
                lost = _unflushed(f"{type(exc).__name__}: {exc}")
                lost.__cause__ = exc
                failures = dict.fromkeys(owners, lost)
        unflushed = []
        for index, (record, event_type, events) in enumerate(handled):
            error = failures.get(index)
            if error is not None:
                unflushed.append(str(record.get("messageId", "")))
                self.telemetry.count("failed", event_type)
                self.telemetry.logger.error(
                    "events not published; the record will be retried",
                    extra={
                        "message_id": record.get("messageId"),
                        "event_type": event_type,
                        "reason": str(error),
                    },
                )
                self._report(record, "failed", error)
                continue
            if events:
                self.telemetry.count("published", event_type)
            self._report(record, "handled")
        return unflushed

    def _not_started(
        self, records: list[SqsRecord], clock: BatchClock, failures: list[dict[str, str]]
    ) -> None:
        """Report the records a batch out of time does not start: failed, to be retried."""
        error = clock.out_of_time(len(records))
        self.telemetry.logger.warning(
            "out of time: records not started", extra={"reason": str(error)}
        )
        for record in records:
            failures.append({"itemIdentifier": record["messageId"]})
            self._report(record, "failed", error)

    def _record_requests(self, groups: Any) -> None:
        """Keep the requests about to be put (before PutEvents: a reply never outruns them)."""
        if self.pending_requests is not None:
            wires = [event.wire for group in groups for event in group]
            requests = sent_requests(self.agent.name, wires)
            if requests:
                self.pending_requests.record(requests)
                if self.deadlines is not None:  # after the record: a timeout always finds it
                    self.deadlines.schedule(requests_with_deadlines(wires))

    def _dead_letter(self, record: SqsRecord, error: PermanentError, event_type: str) -> None:
        self.telemetry.logger.error(
            "permanent failure: sent to the dead-letter queue",
            extra={
                "reason": str(error),
                "error_type": type(error).__name__,
                "message_id": record.get("messageId"),
            },
        )
        self.transport.dead_letter(record, error)
        self.telemetry.count("dead_lettered", event_type)
        self._report(record, "dead-lettered", error)

    def _report(
        self, record: SqsRecord, outcome: Outcome, error: BaseException | None = None
    ) -> None:
        if self.on_outcome is not None:
            self.on_outcome(RecordOutcome(str(record.get("messageId", "")), outcome, error))

    # ---- one event ------------------------------------------------------------------------

    def _handle_once(self, delivered: DeliveredEvent, lambda_context: Any) -> list[OutgoingEvent]:
        envelope = delivered.envelope
        if envelope.hop_count is not None:
            loop = loop_error(envelope, self.agent.name, self.settings.max_hops)
            if loop is not None:
                name, limit = self.agent.name, self.settings.max_event_bytes
                notice = loop_notice(name, self.agent.source, envelope, loop, limit)
                self.publisher.put([notice])  # before the dead letter: a failure retries both
                raise loop
        spec = self.agent.find_handler(envelope)
        if spec is None:
            raise NoHandlerError(
                f"agent {self.agent.name!r} has no handler for {envelope.type!r} on "
                f"{envelope.topic.value}; subscribe with @on_event or fix the rule"
            )
        if spec.subscription.replies and self.pending_requests is not None:
            pending = self.pending_requests
            request = check_reply(envelope, self.agent.name, self.agent.source, pending)
            if request.deadline is not None and not pending.decide(request, envelope):
                self.telemetry.late_reply(envelope)  # the timeout (or the reply) came first
                return []
        if self.validate_payload is not None and not is_failure_reply(envelope.data, envelope):
            self.validate_payload(envelope.type, envelope.data)
        if self.exactly_once is None:
            return self.run_handler(spec, delivered, lambda_context)
        key = claim_key(self.agent.name, envelope.id, delivered.replay_name)
        return self.exactly_once.run(
            key, delivered, lambda: self.run_handler(spec, delivered, lambda_context)
        )

    def run_handler(
        self, spec: HandlerSpec, delivered: DeliveredEvent, lambda_context: Any
    ) -> list[OutgoingEvent]:
        """Run the handler with a buffered bus; return the events it published, encoded.

        The bus is built when the handler (or its reply) first touches `context.bus`."""
        envelope = delivered.envelope
        context = PlatformContext(
            self.agent,
            envelope,
            None,
            lambda_context,
            logger=self.telemetry.logger,
            bus_factory=partial(self._new_bus, delivered, True),
        )
        try:
            result = self._call(spec.function, envelope, context)
            if spec.replies_with_result and result is not None:
                self._reply(context.bus, spec, result)
        except DomainError as exc:
            if not envelope.response_event:
                raise
            failure_bus = self._new_bus(delivered, False)
            self._reply(failure_bus, spec, failure_reply(str(exc)))
            return failure_bus.outgoing_events()
        bus = context.built_bus
        return [] if bus is None else bus.outgoing_events()

    def _new_bus(self, delivered: DeliveredEvent, checked: bool) -> BusClient:
        """The buffered bus of one handled event; `checked`: with the registry's payload check,
        the reply topics and deadlines (a failure reply is sent without them)."""
        if checked:
            return BusClient(
                self.agent.name,
                self.agent.source,
                handled=delivered.envelope,
                replay=delivered.replay_name,
                produced=self._produced,
                validate_payload=self.validate_payload,
                max_event_bytes=self.settings.max_event_bytes,
                reply_topics=self._reply_topics,
                timeouts=self.deadlines is not None,
            )
        return BusClient(
            self.agent.name,
            self.agent.source,
            handled=delivered.envelope,
            replay=delivered.replay_name,
            produced=self._produced,
            max_event_bytes=self.settings.max_event_bytes,
        )

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
        # Inside, a memory client can only be the handled event's tenant and user.
        with handling(envelope.tenant_id or DEFAULT_TENANT, envelope.user_id or DEFAULT_USER):
            result = function(envelope, context)
            if result is not None and inspect.isawaitable(result):
                if self._loop is None:
                    import asyncio  # only for async handlers: not on the cold start of def ones

                    self._loop = asyncio.new_event_loop()
                result = self._loop.run_until_complete(_await(result))
        return result


def _annotations(envelope: EventEnvelope) -> dict[str, str | None]:
    return {
        "event_type": envelope.type,
        "topic": envelope.topic.value,
        "correlation_id": envelope.correlation_id,
        "tenant_id": envelope.tenant_id,
    }


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _unflushed(cause: str) -> PublishError:
    """The error of a handled record whose events could not all be put on the bus."""
    return PublishError(
        f"handled, but its events could not be put on the bus (PutEvents failed: {cause}); "
        "the record will be retried and its stored events put again"
    )
