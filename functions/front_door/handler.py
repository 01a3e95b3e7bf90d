"""The front door: the platform's HTTP API (API Gateway HTTP API, payload format 2.0), served by
Powertools' `APIGatewayHttpResolver`.

- `POST /events` publishes one event on the bus as `soorma.front-door`, in the workflow of the
  `X-Correlation-ID` header (or a new one), for the caller's tenant and user (from the
  authorizer, never from the body); the payload is checked against the registry. Answers 202
  `{"event_id", "correlation_id"}` with the `X-Correlation-ID` header.
- `POST /call` publishes a request the same way (`response_event` required) and waits a bounded
  time for its reply in the event log: 200 `{"reply", "correlation_id"}` or 202
  `{"correlation_id", "request_id", "status_url"}` (`door_calls`).
- `GET /workflows/{correlation_id}` answers the workflow's status from the event log, the
  caller's tenant's events only (`door_workflows`).

Bad input is always a 4xx JSON answer `{"error": ..., "field"?: ...}` (docs/front-door.md).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from door_calls import await_reply, call_seconds, pending, replied
from door_requests import (
    BODY_ATTRIBUTES,
    CORRELATION_HEADER,
    Caller,
    EventRequest,
    RequestError,
    caller_of,
    check_correlation_id,
    correlation_id_of,
    decoded_body,
    open_topics,
    parse_event_body,
)
from door_workflows import read_workflow, workflow_status

from soorma import clients
from soorma.config import settings
from soorma.publishing import EventPublisher
from soorma.registry.entries import EventRecord
from soorma.registry.schemas import InvalidSchemaError
from soorma.registry.validation import PayloadValidator, registry_lookup, validator_for_publisher
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import (
    EventTooLargeError,
    InvalidEnvelopeError,
    PublishError,
    SchemaValidationError,
)
from soorma_common.front_door import FRONT_DOOR
from soorma_common.naming import event_source
from soorma_common.replies import is_failure_reply

#: Its events' source: `soorma.front-door`.
SOURCE = event_source(FRONT_DOOR)

#: How many event types' registry entries one container remembers for the topic check.
MAX_REMEMBERED_TYPES = 10_000

logger = Logger(service=FRONT_DOOR)
app = APIGatewayHttpResolver()


class RegisteredEvents:
    """The registry's view of event types, read once per type and cached as the validator
    caches it (`SOORMA_REGISTRY_CACHE_SECONDS`): the payload check, and the topic each
    registered type belongs to."""

    def __init__(self) -> None:
        conf = settings()
        self.records: dict[str, EventRecord | None] = {}
        self.validator: PayloadValidator | None
        if conf.registry_table:
            lookup = registry_lookup(conf.registry_table)

            def remember(event_type: str) -> EventRecord | None:
                if len(self.records) >= MAX_REMEMBERED_TYPES:
                    self.records.clear()  # callers may name any type: keep the memory bounded
                self.records[event_type] = record = lookup(event_type)
                return record

            self.validator = PayloadValidator(
                lookup=remember,
                strict=conf.strict_schemas,
                cache_seconds=conf.registry_cache_seconds,
            )
        else:
            self.validator = validator_for_publisher()

    def check(self, envelope: EventEnvelope) -> None:
        """Raise `SchemaValidationError` when the payload breaks the registered schema, and
        `RequestError` when the type is registered on another topic."""
        mismatch: SchemaValidationError | None = None
        if self.validator is not None and not is_failure_reply(envelope.data, envelope):
            try:
                self.validator(envelope.type, envelope.data)
            except SchemaValidationError as exc:
                mismatch = exc  # the wrong topic is said first: it explains a wrong payload
        record = self.records.get(envelope.type)
        if record is not None and record.topic is not envelope.topic:
            raise RequestError(
                400,
                f"event type {envelope.type!r} is registered on topic {record.topic.value!r}, "
                f"not {envelope.topic.value!r}: publish it on {record.topic.value!r}",
                "topic",
            )
        if mismatch is not None:
            raise mismatch


@functools.lru_cache(maxsize=1)
def _registry() -> RegisteredEvents:
    return RegisteredEvents()


@functools.lru_cache(maxsize=1)
def _publisher() -> EventPublisher:
    # Payloads are checked by `RegisteredEvents` first, so the publisher checks none again.
    return EventPublisher(SOURCE, validate_payload=_checked_already)


def _checked_already(event_type: str, data: Any) -> None:
    """The publisher's payload check: done by `RegisteredEvents.check` before publishing."""


def answer(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response[str]:
    """A JSON response."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(headers or {}),
    )


@app.post("/events")
def publish_event() -> Response[str]:
    """Publish one event; answer 202 with its id and the workflow's correlation id."""
    published = _publish_request(needs_response=False)
    if isinstance(published, Response):
        return published
    envelope, correlation = published
    return answer(
        202,
        {"event_id": envelope.id, "correlation_id": envelope.correlation_id},
        correlation,
    )


@app.post("/call")
def call_agent() -> Response[str]:
    """Publish a request and wait (`door_calls.call_seconds`) for its reply in the event log:
    200 with the reply, or 202 with where to read the workflow later; never a 504."""
    # the configuration first: a misconfigured door refuses before anything is published
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis() if context is not None else None
    seconds, table = call_seconds(None, remaining), _events_table()
    published = _publish_request(needs_response=True)
    if isinstance(published, Response):
        return published
    request, correlation = published
    reply = await_reply(request, table, clients.client("dynamodb"), seconds)
    if reply is None:
        logger.info("no reply yet", extra={"event_id": request.id})
        return answer(202, pending(request), correlation)
    logger.info("replied", extra={"event_id": request.id, "reply_id": reply.id})
    return answer(200, replied(reply, request.correlation_id), correlation)


def _publish_request(
    *, needs_response: bool
) -> Response[str] | tuple[EventEnvelope, dict[str, str]]:
    """Publish the event the body asks for, in the caller's tenant and workflow: the envelope
    and the correlation header, or the refusal to answer."""
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    correlation: dict[str, str] = {}
    try:
        correlation_id = correlation_id_of(headers)
        correlation[CORRELATION_HEADER] = correlation_id
        logger.append_keys(correlation_id=correlation_id)
        caller = caller_of(event.raw_event.get("requestContext") or {})
        request = parse_event_body(_body_within_limit(decoded_body(event)), open_topics())
        if needs_response and not request.attributes.get("response_event"):
            raise RequestError(
                400,
                "response_event is missing: POST /call waits for a reply of that event type "
                "(use POST /events to publish without waiting)",
                "response_event",
            )
        envelope = build_envelope(request, caller, correlation_id)
        _registry().check(envelope)
        _publisher().publish_envelopes([envelope])
    except RequestError as exc:
        return answer(exc.status, exc.body(), correlation)
    except SchemaValidationError as exc:
        return answer(422, {"error": str(exc), "field": _schema_field(str(exc))}, correlation)
    except EventTooLargeError as exc:
        return answer(413, {"error": str(exc), "field": "data"}, correlation)
    except InvalidSchemaError as exc:  # the registry's fault, not the caller's
        logger.error("broken registered schema", extra={"error": str(exc)})
        return answer(500, {"error": f"the event's registered schema is broken: {exc}"})
    except PublishError as exc:
        logger.warning("publish failed", extra={"error": str(exc)})
        return answer(503, {"error": f"the bus did not take the event, try again: {exc}"})
    logger.info("published", extra={"event_id": envelope.id, "event_type": envelope.type})
    return envelope, correlation


def _events_table() -> str:
    table = settings().events_table
    if not table:
        raise RuntimeError("SOORMA_EVENTS_TABLE is not set: the front door cannot read workflows")
    return table


@app.get("/workflows/<correlation_id>")
def get_workflow(correlation_id: str) -> Response[str]:
    """The workflow's status, from the caller's tenant's events in the event log."""
    try:
        check_correlation_id(correlation_id, "correlation_id")
        caller = caller_of(app.current_event.raw_event.get("requestContext") or {})
    except RequestError as exc:
        return answer(exc.status, exc.body())
    envelopes, truncated = read_workflow(
        clients.client("dynamodb"), _events_table(), correlation_id, caller.tenant_id
    )
    if not envelopes:
        return answer(
            404,
            {
                "error": f"no workflow {correlation_id!r} for this tenant: check the id (the "
                "X-Correlation-ID answer of POST /events); events are kept 14 days",
                "field": "correlation_id",
            },
        )
    return answer(200, workflow_status(correlation_id, envelopes, truncated))


def server_fault(exc: Exception) -> Response[str]:
    """A fault of the platform (never of the input): logged, answered as JSON."""
    logger.exception("front door failed")
    return answer(
        500,
        {
            "error": f"the front door failed ({type(exc).__name__}); the request id is in the "
            "access log: retry, or report it"
        },
    )


app.exception_handler(Exception)(server_fault)  # (Powertools' decorator is untyped)


@app.not_found
def no_route(exc: NotFoundError) -> Response[str]:
    """A path or method the API does not serve."""
    event = app.current_event
    return answer(
        404,
        {
            "error": f"no route {event.http_method} {event.path}: the API serves POST /events, "
            "POST /call and GET /workflows/{correlation_id}"
        },
    )


def build_envelope(request: EventRequest, caller: Caller, correlation_id: str) -> EventEnvelope:
    """The envelope the request asks for, in the caller's tenant, user and workflow."""
    try:
        return EventEnvelope(
            source=SOURCE,
            type=request.event_type,
            topic=request.topic,
            data=request.data,
            correlation_id=correlation_id,
            tenant_id=caller.tenant_id,
            user_id=caller.user_id,
            **request.attributes,
        )
    except InvalidEnvelopeError as exc:
        message = str(exc)
        field = next((name for name in sorted(BODY_ATTRIBUTES) if name in message), None)
        raise RequestError(400, message, field) from None


def _body_within_limit(body: str | None) -> str | None:
    """The body, unless it is over the bus's largest event (then 413 before parsing it)."""
    limit = settings().max_event_bytes
    if body is not None and len(body) > limit // 4 and len(body.encode()) > limit:
        raise RequestError(
            413,
            f"the body is {len(body.encode())} bytes, over the {limit}-byte limit of one event "
            "(SOORMA_MAX_EVENT_BYTES): store the payload elsewhere (e.g. S3) and send a "
            "reference",
            "(body)",
        )
    return body


_FIELD = re.compile(r"field '([^']*)'")


def _schema_field(message: str) -> str:
    """The payload field a `SchemaValidationError` names, as a path from the body (`data.x`)."""
    found = _FIELD.search(message)
    if found is None or found.group(1) in ("", "(payload)"):
        return "data"
    return f"data.{found.group(1)}"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (API Gateway HTTP API, payload format 2.0)."""
    logger.remove_keys(["correlation_id"])
    return app.resolve(event, context)
