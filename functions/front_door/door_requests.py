"""What the front door takes from a request: the caller (tenant and user, from the authorizer
only), the workflow's correlation id (the `X-Correlation-ID` header, or a new one) and the
event a `POST /events` body asks for.

Every refusal is a `RequestError` carrying the HTTP status, a message that says what was wrong
(with the offending value) and what to do, and the field it is about.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soorma_common.errors import InvalidEventTypeError, UnknownTopicError
from soorma_common.front_door import (
    AUTH_MODE,
    DEFAULT_TENANT,
    DEFAULT_TENANT_CLAIM,
    DEFAULT_USER,
    DEFAULT_USER_CLAIM,
    IAM_AUTH,
    JWT_AUTH,
    OPEN_TOPICS,
    TENANT_CLAIM,
    TOPICS,
    USER_CLAIM,
)
from soorma_common.json_values import first_non_utf8, nests_deeper_than
from soorma_common.naming import check_event_type
from soorma_common.topics import EventTopic

CORRELATION_HEADER = "X-Correlation-ID"
#: A correlation id a caller may choose: it becomes a partition key and a URL path segment.
CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: Tenant and user ids become parts of memory keys (`soorma.memory.keys`): no `#`, <= 256;
#: and envelope attributes (CloudEvents strings): no control characters.
IDENTITY = re.compile(r"[^#\s\x00-\x1f\x7f-\x9f]{1,256}")
#: Attributes that become parts of memory keys (`soorma.memory.keys.check_id`).
MEMORY_KEY_ATTRIBUTES = ("session_id", "plan_id")
#: How deep `data` may nest (objects and arrays): encoders refuse past about 250 levels.
MAX_DATA_DEPTH = 128

#: Envelope attributes a body may set, besides `event_type`, `topic` and `data`.
BODY_ATTRIBUTES = frozenset(
    {
        "subject",
        "session_id",
        "plan_id",
        "goal_id",
        "response_event",
        "response_topic",
        "payload_schema_name",
        "response_schema_name",
        "dataschema",
    }
)
#: Identity attributes: the authorizer's alone (wire names too).
IDENTITY_ATTRIBUTES = ("tenant_id", "user_id", "tenantid", "userid")


class RequestError(Exception):
    """A request the front door refuses: `status` (4xx), the message, the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, str]:
        """The JSON answer: `{"error": ..., "field"?: ...}`."""
        answer = {"error": self.message}
        if self.field is not None:
            answer["field"] = self.field
        return answer


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant always, the user when the authorizer names one."""

    tenant_id: str
    user_id: str | None


def caller_of(request_context: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Caller:
    """The caller, from the authorizer's part of `requestContext` (set by API Gateway after it
    checked the token or signature: a client cannot write it).

    JWT mode reads the tenant and user claims and never falls back to defaults, so a route left
    without an authorizer by mistake serves nobody; IAM mode uses the configured defaults.
    """
    env = os.environ if env is None else env
    authorizer = request_context.get("authorizer") or {}
    if env.get(AUTH_MODE, JWT_AUTH).lower() == IAM_AUTH:
        tenant, user = env.get(DEFAULT_TENANT), env.get(DEFAULT_USER) or None
        where = DEFAULT_TENANT
        if not authorizer.get("iam"):
            raise RequestError(403, "the request was not signed (IAM auth): sign it with SigV4")
    else:
        claims = (authorizer.get("jwt") or {}).get("claims") or {}
        where = env.get(TENANT_CLAIM) or DEFAULT_TENANT_CLAIM
        tenant = claims.get(where)
        user = claims.get(env.get(USER_CLAIM) or DEFAULT_USER_CLAIM)
    if not tenant:
        raise RequestError(
            403,
            f"no tenant for this caller: the token carries no {where!r} claim. Issue tokens "
            "with the tenant claim (or set SOORMA_FRONT_DOOR_TENANT_CLAIM to the claim used)",
            where,
        )
    for name, value in (("tenant", tenant), ("user", user)):
        if value is not None and not (isinstance(value, str) and IDENTITY.fullmatch(value)):
            raise RequestError(
                403,
                f"the {name} the authorizer gives ({str(value)[:80]!r}) cannot be used: ids are "
                "1-256 characters without white space, control characters or '#'",
                where if name == "tenant" else None,
            )
    return Caller(str(tenant), None if user is None else str(user))


def correlation_id_of(headers: Mapping[str, str]) -> str:
    """The `X-Correlation-ID` header when valid, or a new id; a malformed header is refused."""
    given = headers.get(CORRELATION_HEADER.lower())
    if given is None:
        return str(uuid.uuid4())
    check_correlation_id(given, CORRELATION_HEADER)
    return given


def check_correlation_id(value: str, field_name: str) -> str:
    """Return `value` if it can be a correlation id, else raise `RequestError` (400)."""
    if not CORRELATION_ID.fullmatch(value):
        raise RequestError(
            400,
            f"invalid correlation id {value[:80]!r}: use 1-128 ASCII letters, digits, '.', '_', "
            "':' and '-', starting with a letter or digit (a UUID is best)",
            field_name,
        )
    return value


def open_topics(env: Mapping[str, str] | None = None) -> frozenset[EventTopic]:
    """The topics callers may publish on (`SOORMA_FRONT_DOOR_TOPICS`, default `OPEN_TOPICS`)."""
    env = os.environ if env is None else env
    configured = env.get(TOPICS)
    if not configured:
        return frozenset(OPEN_TOPICS)
    return frozenset(EventTopic.parse(name.strip()) for name in configured.split(",") if name)


@dataclass(frozen=True)
class EventRequest:
    """What a `POST /events` body asks to publish."""

    topic: EventTopic
    event_type: str
    data: Any
    attributes: dict[str, Any] = field(default_factory=dict)


def parse_event_body(body: str | None, topics: frozenset[EventTopic]) -> EventRequest:
    """The event a body asks for; `RequestError` for bad JSON, a missing or unknown field, an
    unknown or closed topic, an invalid event type, or an identity attribute."""
    if not body:
        raise RequestError(400, "the body is empty: send a JSON object with event_type and topic")
    try:
        fields = json.loads(body)
    except ValueError as exc:
        raise RequestError(400, f"the body is not JSON ({exc})") from None
    except RecursionError:
        raise RequestError(
            400, f"the body nests too deep: data may nest {MAX_DATA_DEPTH} levels", "(body)"
        ) from None
    if not isinstance(fields, dict):
        raise RequestError(
            400, f"the body must be a JSON object, not a {type(fields).__name__}", "(body)"
        )
    for name in IDENTITY_ATTRIBUTES:
        if name in fields:
            raise RequestError(
                400,
                f"{name} may not be set in the body: the tenant and the user come from the "
                "caller's credentials (the authorizer), never from the request",
                name,
            )
    if "correlation_id" in fields or "correlationid" in fields:
        raise RequestError(
            400,
            f"the correlation id is not a body field: send it as the {CORRELATION_HEADER} header",
            "correlation_id",
        )
    unknown = sorted(set(fields) - BODY_ATTRIBUTES - {"event_type", "topic", "data"})
    if unknown:
        raise RequestError(
            400,
            f"unknown field(s) {', '.join(unknown)}: a body holds event_type, topic, data and "
            f"optionally {', '.join(sorted(BODY_ATTRIBUTES))}",
            unknown[0],
        )
    for required in ("event_type", "topic"):
        if fields.get(required) is None:
            raise RequestError(400, f"{required} is missing", required)
    try:
        topic = EventTopic.parse(fields["topic"])
    except (UnknownTopicError, TypeError):
        raise RequestError(
            400,
            f"unknown topic {str(fields['topic'])[:80]!r}: Soorma has 8 topics; this API "
            f"accepts {', '.join(sorted(t.value for t in topics))}",
            "topic",
        ) from None
    if topic not in topics:
        raise RequestError(
            403,
            f"topic {topic.value!r} is not open to the front door: it accepts "
            f"{', '.join(sorted(t.value for t in topics))} (SOORMA_FRONT_DOOR_TOPICS)",
            "topic",
        )
    try:
        event_type = check_event_type(fields["event_type"])
    except InvalidEventTypeError as exc:
        raise RequestError(400, str(exc), "event_type") from None
    attributes = {name: fields[name] for name in BODY_ATTRIBUTES if fields.get(name) is not None}
    _check_reply_topic(attributes.get("response_topic"), topics)
    for name in MEMORY_KEY_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None and not (isinstance(value, str) and IDENTITY.fullmatch(value)):
            raise RequestError(
                400,
                f"{name} {str(value)[:80]!r} cannot name a {name[:-3]}: it becomes part of "
                "memory keys, so it is 1-256 characters without white space, control "
                "characters or '#'",
                name,
            )
    data = fields.get("data")
    _check_data(data)
    return EventRequest(topic, event_type, data, attributes)


def decoded_body(event: Any) -> str | None:
    """The request's body as text (Powertools' `decoded_body`); `RequestError` (400) for a
    base64 body that is not base64 of UTF-8 text."""
    try:
        body: str | None = event.decoded_body
    except ValueError:  # binascii.Error, UnicodeDecodeError
        raise RequestError(
            400, "the body is marked base64 but is not base64 of UTF-8 JSON text", "(body)"
        ) from None
    return body


def _check_reply_topic(topic: Any, topics: frozenset[EventTopic]) -> None:
    """Refuse a `response_topic` the caller could not publish on itself (a reply is published
    by the agent, as itself: the platform's topics stay closed), except `action-results`."""
    if topic is None:
        return
    try:
        parsed = EventTopic.parse(topic)
    except (UnknownTopicError, TypeError):
        raise RequestError(
            400, f"unknown response_topic {str(topic)[:80]!r}", "response_topic"
        ) from None
    if parsed is not EventTopic.ACTION_RESULTS and parsed not in topics:
        raise RequestError(
            403,
            f"replies cannot be asked for on {parsed.value!r}: a reply may go to action-results "
            f"or a topic open to the front door ({', '.join(sorted(t.value for t in topics))})",
            "response_topic",
        )


def _check_data(data: Any) -> None:
    """Refuse `data` nested deeper than `MAX_DATA_DEPTH` or holding text UTF-8 cannot encode
    (a lone surrogate, which JSON can escape): the bus could not carry either."""
    if nests_deeper_than(data, MAX_DATA_DEPTH):
        raise RequestError(
            400, f"data nests deeper than {MAX_DATA_DEPTH} levels (objects and arrays)", "data"
        )
    if first_non_utf8(data) is not None:
        raise RequestError(
            400, "data holds text that is not Unicode (a lone surrogate such as \\ud800)", "data"
        )
