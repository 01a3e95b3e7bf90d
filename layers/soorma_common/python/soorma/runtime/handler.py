"""`LambdaRuntime`: an SQS batch of EventBridge events in, partial batch response out.

Per record: parse, check the source, bind logs, refuse an event over the hop limit (a loop) and a
reply to no request this agent sent (a platform timeout reply is never a loop), check the payload
(a reply's before it is taken as its request's one outcome), claim (exactly once), run the
handler with a buffered bus, store the outgoing events with the claim; once every record is
handled, record each record's requests and flush the batch's events together. Permanent
failures go to the queue's DLQ at once and count as done; transient ones are reported in
`batchItemFailures`. All I/O goes through one `Transport`; each record's final outcome goes to
the `on_outcome` observer, if any.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from soorma.agent_spec import AgentSpec, HandlerSpec
from soorma.bus import BusClient, PayloadValidator
from soorma.config import Settings, settings
from soorma.context import PlatformContext
from soorma.deadlines import Deadlines
from soorma.payload_checks import validator_for_agent
from soorma.publishing import EventBridgePublisher, OutgoingEvent
from soorma.requests import PendingRequests, check_reply
from soorma.runtime.aws_transport import AwsTransport
from soorma.runtime.calls import HandlerCalls
from soorma.runtime.claims import claim_key
from soorma.runtime.exactly_once import ExactlyOnce
from soorma.runtime.failure_replies import failure_reply_events
from soorma.runtime.flush_errors import unflushed, unrecorded
from soorma.runtime.loops import loop_error, loop_notice
from soorma.runtime.outcomes import HandledRecord, Outcome, OutcomeObserver, RecordOutcome
from soorma.runtime.records import DeliveredEvent, ParsedRecord, parse_each, records_of
from soorma.runtime.replies_path import RequestRecorder, is_platform_timeout
from soorma.runtime.telemetry import RuntimeTelemetry
from soorma.runtime.time_budget import BatchClock
from soorma.runtime.transport import SqsRecord, Transport
from soorma.tracing import span, tracing_active
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import DomainError, NoHandlerError, PermanentError, PublishError
from soorma_common.replies import is_failure_reply
from soorma_common.topics import EventTopic


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
        self.requests = RequestRecorder(agent.name, self.pending_requests, self.deadlines)
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
        self._call = HandlerCalls()  # in the event's tenant scope; async handlers awaited

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
        parsed = parse_each(records)
        try:
            for index, record in enumerate(records):
                if not clock.may_start():
                    self._not_started(records[index:], clock, failures)
                    break
                try:
                    result = self._handle_record(record, parsed[index], lambda_context, traced)
                except Exception:  # reported and logged by _handle_record: retried
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
        return self._handle_record(record, parse_each([record])[0], lambda_context, traced)

    def _handle_record(
        self, record: SqsRecord, parsed: ParsedRecord, lambda_context: Any, traced: bool | None
    ) -> HandledRecord | None:
        try:
            return self._handle_parsed(record, parsed, lambda_context, traced)
        except Exception as exc:
            self._report(record, "failed", exc)
            raise

    def _handle_parsed(
        self, record: SqsRecord, delivered: ParsedRecord, lambda_context: Any, traced: bool | None
    ) -> HandledRecord | None:
        if isinstance(delivered, PermanentError):
            self.telemetry.unbind()
            self._dead_letter(record, delivered, "unparsed")
            return None
        if isinstance(delivered, Exception):
            raise delivered
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
        whose events could not all be put. Each record's requests are recorded first, apart: one
        refused for good (a `PermanentError`) is dead-lettered, one that fails is retried, and
        neither holds back the others' events.

        Those records' claims are complete, so their redelivery re-flushes the stored events
        (same ids) without running the handler again.
        """
        owners = [index for index, item in enumerate(handled) if item.events]
        failures: dict[int, PublishError] = {}
        dropped: set[int] = set()
        if owners:  # each record's requests, before its events are put (a reply never outruns
            self.telemetry.unbind()  # them); one that cannot be kept holds back no other record
            for position, exc in self.requests.record_each([handled[i].events for i in owners]):
                error = self._unrecorded(handled[owners[position]], exc)
                if error is None:
                    dropped.add(owners[position])
                else:
                    failures[owners[position]] = error
            owners = [i for i in owners if i not in dropped and i not in failures]
        if owners:
            try:
                outcome = self.publisher.put_groups([handled[i].events for i in owners])
                failures.update(
                    (owners[group], unflushed(f"error codes: {', '.join(codes)}"))
                    for group, codes in outcome.failed.items()
                )
            except Exception as exc:
                self.telemetry.logger.exception(
                    "PutEvents failed; the batch's records will be retried"
                )
                lost = unflushed(f"{type(exc).__name__}: {exc}")
                lost.__cause__ = exc
                failures.update(dict.fromkeys(owners, lost))
        retried = []
        for index, (record, event_type, events) in enumerate(handled):
            if index in dropped:  # dead-lettered (and reported) when its requests were refused
                continue
            error = failures.get(index)
            if error is not None:
                retried.append(str(record.get("messageId", "")))
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
        return retried

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

    def _unrecorded(self, item: HandledRecord, exc: Exception) -> PublishError | None:
        """A record whose requests could not be recorded: dead-lettered (None) on a
        `PermanentError`, else the error it is retried with; its events are not put."""
        if isinstance(exc, PermanentError):
            try:
                self._dead_letter(item.record, exc, item.event_type)
                return None
            except Exception as failed:  # the DLQ refused: retried, dead-lettered again then
                exc = failed
        return unrecorded(exc)

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
        if envelope.hop_count is not None and not is_platform_timeout(envelope, self.agent.name):
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
            self._check_payload(envelope)  # before the decision: an invalid reply wins nothing
            if not pending.decide(request, envelope):  # one outcome per request
                self.telemetry.late_reply(envelope)  # another reply (or the timeout) came first
                return []
        else:
            self._check_payload(envelope)
        if self.exactly_once is None:
            return self.run_handler(spec, delivered, lambda_context)
        key = claim_key(self.agent.name, envelope.source, envelope.id, delivered.replay_name)
        return self.exactly_once.run(
            key, delivered, lambda: self.run_handler(spec, delivered, lambda_context)
        )

    def _check_payload(self, envelope: EventEnvelope) -> None:
        if self.validate_payload is not None and not is_failure_reply(envelope.data, envelope):
            self.validate_payload(envelope.type, envelope.data)

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
            return failure_reply_events(  # its text cut to fit one event
                partial(self._new_bus, delivered, False),
                lambda bus, data: self._reply(bus, spec, data),
                str(exc),
            )
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


def _annotations(envelope: EventEnvelope) -> dict[str, str | None]:
    return {
        "event_type": envelope.type,
        "topic": envelope.topic.value,
        "correlation_id": envelope.correlation_id,
        "tenant_id": envelope.tenant_id,
    }
