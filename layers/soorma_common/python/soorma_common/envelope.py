"""`EventEnvelope`: the one event shape on the wire (CloudEvents 1.0, structured JSON mode).

In Python the extension attributes are snake_case (`correlation_id`); on the wire they follow the
CloudEvents naming rule, lowercase letters and digits only (`correlationid`). `to_wire()` and
`from_wire()` are the only serialization; `docs/wire-format.md` documents it for other languages.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_jsonable_python

from soorma_common.errors import InvalidEnvelopeError
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from cloudevents.core.v1.event import CloudEvent

SPEC_VERSION: Literal["1.0"] = "1.0"
NO_WHITE_SPACE = r"^\S+$"
JSON_CONTENT_TYPE = "application/json"

#: Python name -> CloudEvents wire name, for every Soorma extension attribute.
EXTENSION_WIRE_NAMES: dict[str, str] = {
    "topic": "topic",
    "correlation_id": "correlationid",
    "causation_id": "causationid",
    "trace_id": "traceid",
    "tenant_id": "tenantid",
    "user_id": "userid",
    "session_id": "sessionid",
    "plan_id": "planid",
    "goal_id": "goalid",
    "response_event": "responseevent",
    "response_topic": "responsetopic",
    "reply_to": "replyto",
    "payload_schema_name": "payloadschemaname",
    "response_schema_name": "responseschemaname",
}


#: Attributes a wire envelope must carry (CloudEvents' required four, plus Soorma's `topic`).
REQUIRED_WIRE_ATTRIBUTES = ("id", "source", "specversion", "type", "topic")
_REQUIRED = frozenset(REQUIRED_WIRE_ATTRIBUTES)


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class EventEnvelope(BaseModel):
    """A Soorma event: CloudEvents core attributes plus Soorma's extension attributes."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    # CloudEvents core attributes
    id: str = Field(default_factory=_new_id, min_length=1)
    source: str = Field(min_length=1, description="`soorma.<agent>` for events made by agents")
    specversion: Literal["1.0"] = SPEC_VERSION
    type: str = Field(
        min_length=1, pattern=NO_WHITE_SPACE, description="event type, `domain.action`"
    )
    time: datetime = Field(default_factory=_now)
    subject: str | None = None
    datacontenttype: str | None = JSON_CONTENT_TYPE
    dataschema: str | None = None
    data: Any = None

    # Soorma extensions (wire names are the aliases)
    topic: EventTopic
    correlation_id: str = Field(
        default_factory=_new_id,
        validation_alias="correlationid",
        serialization_alias="correlationid",
        min_length=1,
    )
    causation_id: str | None = Field(
        default=None, validation_alias="causationid", serialization_alias="causationid"
    )
    trace_id: str | None = Field(
        default=None, validation_alias="traceid", serialization_alias="traceid"
    )
    tenant_id: str | None = Field(
        default=None, validation_alias="tenantid", serialization_alias="tenantid"
    )
    user_id: str | None = Field(
        default=None, validation_alias="userid", serialization_alias="userid"
    )
    session_id: str | None = Field(
        default=None, validation_alias="sessionid", serialization_alias="sessionid"
    )
    plan_id: str | None = Field(
        default=None, validation_alias="planid", serialization_alias="planid"
    )
    goal_id: str | None = Field(
        default=None, validation_alias="goalid", serialization_alias="goalid"
    )
    response_event: str | None = Field(
        default=None, validation_alias="responseevent", serialization_alias="responseevent"
    )
    response_topic: EventTopic | None = Field(
        default=None, validation_alias="responsetopic", serialization_alias="responsetopic"
    )
    reply_to: str | None = Field(
        default=None, validation_alias="replyto", serialization_alias="replyto"
    )
    payload_schema_name: str | None = Field(
        default=None, validation_alias="payloadschemaname", serialization_alias="payloadschemaname"
    )
    response_schema_name: str | None = Field(
        default=None,
        validation_alias="responseschemaname",
        serialization_alias="responseschemaname",
    )

    @field_validator("time")
    @classmethod
    def _utc_time(cls, value: datetime) -> datetime:
        # Kept in UTC so that the wire form is always `...Z` (pydantic writes UTC that way).
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value.utcoffset() else value

    # ---- the wire -------------------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """The structured-mode CloudEvents JSON object (wire names, absent attributes omitted)."""
        wire: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return wire

    def to_json(self) -> str:
        """`to_wire()` as compact JSON text (what goes into EventBridge `Detail`)."""
        return json.dumps(self.to_wire(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_wire(cls, wire: Any) -> EventEnvelope:
        """Parse a structured-mode CloudEvents object; raise `InvalidEnvelopeError` if it is not.

        On the wire `id`, `source`, `specversion`, `type` and `topic` are required (nothing that
        identifies an event may be invented by a receiver, or a redelivery would look new); an
        absent `correlationid` means the event starts a workflow, so it defaults to the `id`.
        """
        if not isinstance(wire, dict):
            raise InvalidEnvelopeError(
                f"an envelope must be a JSON object, got {type(wire).__name__}: {str(wire)[:120]!r}"
            )
        if not wire.keys() >= _REQUIRED:
            missing = [name for name in REQUIRED_WIRE_ATTRIBUTES if name not in wire]
            raise InvalidEnvelopeError(
                f"invalid envelope {wire.get('id', '<no id>')!r}: missing required attribute(s) "
                f"{', '.join(missing)} (see docs/wire-format.md)"
            )
        if wire.get("correlationid") is None:
            wire = {**wire, "correlationid": wire["id"]}
        try:
            return cls.model_validate(wire)
        except ValidationError as exc:
            raise InvalidEnvelopeError(_describe(exc, wire)) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> EventEnvelope:
        """Parse `to_json()` output; raise `InvalidEnvelopeError` on bad JSON or a bad envelope."""
        try:
            wire = json.loads(text)
        except ValueError as exc:
            raise InvalidEnvelopeError(
                f"envelope is not JSON ({exc}): {str(text)[:120]!r}"
            ) from None
        return cls.from_wire(wire)

    def size_bytes(self) -> int:
        """UTF-8 size of `to_json()`: what the size limit is checked against."""
        return len(self.to_json().encode("utf-8"))

    # ---- the cloudevents SDK --------------------------------------------------------------

    def to_cloudevent(self) -> CloudEvent:
        """This envelope as a `cloudevents` SDK v1.0 `CloudEvent` (imports `cloudevents` lazily)."""
        from cloudevents.core.v1.event import CloudEvent

        wire = self.to_wire()
        data = wire.pop("data", None)
        wire["time"] = self.time
        return CloudEvent(wire, data)

    @classmethod
    def from_cloudevent(cls, event: CloudEvent) -> EventEnvelope:
        """Build an envelope from a `cloudevents` SDK event (any object with `get_attributes()`)."""
        wire: dict[str, Any] = dict(event.get_attributes())
        if isinstance(wire.get("time"), datetime):
            wire["time"] = _format_time(wire["time"])
        data = event.get_data()
        if data is not None:
            wire["data"] = data
        return cls.from_wire(wire)


#: Attributes `wire_of` writes: Python name -> wire name (every optional string attribute).
_WIRE_NAMES: dict[str, str] = {
    "subject": "subject",
    "datacontenttype": "datacontenttype",
    "dataschema": "dataschema",
    **{name: wire for name, wire in EXTENSION_WIRE_NAMES.items() if name != "topic"},
}
# Python's \S rejects every character pydantic's (Rust) \S rejects, and a few more (which
# then go through the model): a type accepted here is accepted by the model too.
_NO_WHITE_SPACE = re.compile(NO_WHITE_SPACE[1:-1])


def wire_of(
    id: str, source: str, event_type: str, topic: EventTopic, data: Any, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """`EventEnvelope(...).to_wire()` for an envelope made now, built without the model.

    For a publisher whose `id`, `source` and `topic` are already valid (a derived id, the
    agent's source, a parsed topic): `event_type` gets the model's checks, `correlation_id` must
    be given, each attribute in `fields` (Python names, values not None) must be a `str`, and
    `response_topic` an `EventTopic`. Returns None when anything else is given (the caller then
    builds the model, which validates it or says what is wrong), so the result is always what
    the model would have written (attributes in `fields` order after the core ones).
    """
    if type(event_type) is not str or _NO_WHITE_SPACE.fullmatch(event_type) is None:
        return None
    if not fields.get("correlation_id"):
        return None
    wire: dict[str, Any] = {
        "id": id,
        "source": source,
        "specversion": SPEC_VERSION,
        "type": event_type,
        "time": datetime.now(UTC).isoformat()[:-6] + "Z",
        "datacontenttype": JSON_CONTENT_TYPE,
    }
    if data is not None:
        wire["data"] = to_jsonable_python(data)
    wire["topic"] = topic.value
    names = _WIRE_NAMES
    for name, value in fields.items():
        if type(value) is str and name in names and name != "response_topic":
            wire[names[name]] = value
        elif name == "response_topic" and type(value) is EventTopic:
            wire["responsetopic"] = value.value
        else:
            return None
    return wire


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _describe(exc: ValidationError, wire: dict[str, Any]) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "envelope"
        value = error.get("input")
        shown = repr(value)[:80] if where != "envelope" else ""
        message = error["msg"]
        if where == "type" and error["type"] == "string_pattern_mismatch":
            message = "an event type must not contain white space (use domain.action)"
        parts.append(f"{where}: {message}" + (f" (got {shown})" if shown else ""))
    event_id = wire.get("id", "<no id>")
    return f"invalid envelope {event_id!r}: " + "; ".join(parts)
