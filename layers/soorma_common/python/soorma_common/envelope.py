"""`EventEnvelope`: the one event shape on the wire (CloudEvents 1.0, structured JSON mode).

In Python the extension attributes are snake_case (`correlation_id`); on the wire they follow the
CloudEvents naming rule, lowercase letters and digits only (`correlationid`). `to_wire()` and
`from_wire()` are the only serialization; `docs/wire-format.md` documents it for other languages.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from soorma_common.errors import InvalidEnvelopeError
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from cloudevents.core.v1.event import CloudEvent

SPEC_VERSION = "1.0"
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
    specversion: str = SPEC_VERSION
    type: str = Field(min_length=1, description="event type, `domain.action`")
    time: datetime = Field(default_factory=_now)
    subject: str | None = None
    datacontenttype: str | None = JSON_CONTENT_TYPE
    dataschema: str | None = None
    data: Any = None

    # Soorma extensions (wire names are the aliases)
    topic: EventTopic
    correlation_id: str = Field(default_factory=_new_id, alias="correlationid", min_length=1)
    causation_id: str | None = Field(default=None, alias="causationid")
    trace_id: str | None = Field(default=None, alias="traceid")
    tenant_id: str | None = Field(default=None, alias="tenantid")
    user_id: str | None = Field(default=None, alias="userid")
    session_id: str | None = Field(default=None, alias="sessionid")
    plan_id: str | None = Field(default=None, alias="planid")
    goal_id: str | None = Field(default=None, alias="goalid")
    response_event: str | None = Field(default=None, alias="responseevent")
    response_topic: EventTopic | None = Field(default=None, alias="responsetopic")
    reply_to: str | None = Field(default=None, alias="replyto")
    payload_schema_name: str | None = Field(default=None, alias="payloadschemaname")
    response_schema_name: str | None = Field(default=None, alias="responseschemaname")

    @field_validator("specversion")
    @classmethod
    def _only_spec_1_0(cls, value: str) -> str:
        if value != SPEC_VERSION:
            raise ValueError(f"specversion must be {SPEC_VERSION!r}, got {value!r}")
        return value

    @field_validator("type")
    @classmethod
    def _type_has_no_spaces(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError(f"event type {value!r} must not contain white space (use domain.action)")
        return value

    @field_validator("topic", "response_topic", mode="before")
    @classmethod
    def _known_topic(cls, value: Any) -> Any:
        if value is None or isinstance(value, EventTopic):
            return value
        return EventTopic.parse(value)

    @field_validator("time")
    @classmethod
    def _aware_time(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    # ---- the wire -------------------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """The structured-mode CloudEvents JSON object (wire names, absent attributes omitted)."""
        wire = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        wire["time"] = _format_time(self.time)
        return wire

    def to_json(self) -> str:
        """`to_wire()` as compact JSON text (what goes into EventBridge `Detail`)."""
        return json.dumps(self.to_wire(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_wire(cls, wire: Any) -> EventEnvelope:
        """Parse a structured-mode CloudEvents object; raise `InvalidEnvelopeError` if it is not one."""
        if not isinstance(wire, dict):
            raise InvalidEnvelopeError(
                f"an envelope must be a JSON object, got {type(wire).__name__}: {str(wire)[:120]!r}"
            )
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
            raise InvalidEnvelopeError(f"envelope is not JSON ({exc}): {str(text)[:120]!r}") from None
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


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _describe(exc: ValidationError, wire: dict[str, Any]) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "envelope"
        value = error.get("input")
        shown = repr(value)[:80] if where != "envelope" else ""
        parts.append(f"{where}: {error['msg']}" + (f" (got {shown})" if shown else ""))
    event_id = wire.get("id", "<no id>")
    return f"invalid envelope {event_id!r}: " + "; ".join(parts)
