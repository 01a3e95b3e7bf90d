"""`EventEnvelope`: the one event shape on the wire (CloudEvents 1.0, structured JSON mode).

In Python the extension attributes are snake_case (`correlation_id`); on the wire they follow the
CloudEvents naming rule, lowercase letters and digits only (`correlationid`). `to_wire()` and
`from_wire()` are the only serialization; `docs/wire-format.md` documents it for other languages.

Attributes follow CloudEvents 1.0.2 (`soorma_common.attributes`); whatever the envelope refuses
is an `InvalidEnvelopeError` (permanent) naming the attribute: an unknown keyword (`sesion_id=`)
names the allowed ones; an unknown extension read from the wire is kept if it is valid.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_jsonable_python

from soorma_common.attributes import (
    AbsoluteUri,
    CloudEventsString,
    EventTypeName,
    MediaType,
    UriReference,
    check_json_data,
    describe_validation_error,
    extension_problem,
    has_non_finite_float,
    is_flat_json_object,
    is_plain_json,
)
from soorma_common.errors import InvalidEnvelopeError
from soorma_common.naming import EVENT_TYPE
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from cloudevents.core.v1.event import CloudEvent

SPEC_VERSION: Literal["1.0"] = "1.0"
JSON_CONTENT_TYPE = "application/json"
#: The `datacontenttype` of `bytes` data when none is given (carried as `data_base64`).
BINARY_CONTENT_TYPE = "application/octet-stream"
_BINARY = (bytes, bytearray, memoryview)
_BINARY_TYPES = frozenset(_BINARY)

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
    "hop_count": "hopcount",
    "deadline": "deadline",
}

HopCount = Annotated[int, Field(strict=True, ge=0, lt=2**31)]  # causation depth, see soorma.bus

#: Attributes a wire envelope must carry (CloudEvents' required four, plus Soorma's `topic`).
REQUIRED_WIRE_ATTRIBUTES = ("id", "source", "specversion", "type", "topic")
_REQUIRED = frozenset(REQUIRED_WIRE_ATTRIBUTES)


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


def _extension(wire_name: str) -> Any:
    """An optional extension attribute: snake_case in Python, `wire_name` on the wire."""
    return Field(default=None, validation_alias=wire_name, serialization_alias=wire_name)


class EventEnvelope(BaseModel):
    """A Soorma event: CloudEvents core attributes plus Soorma's extension attributes.

    Keywords are the attributes' Python names (or their wire names); any other keyword raises
    `InvalidEnvelopeError` naming the allowed ones, and None means absent (the default).
    `bytes` data travels as `data_base64`.
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    # CloudEvents core attributes
    id: CloudEventsString = Field(default_factory=_new_id)
    source: UriReference = Field(description="`soorma.<agent>` for events made by agents")
    specversion: Literal["1.0"] = SPEC_VERSION
    type: EventTypeName = Field(description="event type, `domain.action`")
    time: datetime = Field(default_factory=_now)
    subject: CloudEventsString | None = None
    datacontenttype: MediaType | None = JSON_CONTENT_TYPE
    dataschema: AbsoluteUri | None = None
    data: Any = None

    # Soorma extensions (wire names are the aliases)
    topic: EventTopic
    correlation_id: CloudEventsString = Field(
        default_factory=_new_id,
        validation_alias="correlationid",
        serialization_alias="correlationid",
    )
    causation_id: CloudEventsString | None = _extension("causationid")
    trace_id: CloudEventsString | None = _extension("traceid")
    tenant_id: CloudEventsString | None = _extension("tenantid")
    user_id: CloudEventsString | None = _extension("userid")
    session_id: CloudEventsString | None = _extension("sessionid")
    plan_id: CloudEventsString | None = _extension("planid")
    goal_id: CloudEventsString | None = _extension("goalid")
    response_event: EventTypeName | None = _extension("responseevent")
    response_topic: EventTopic | None = _extension("responsetopic")
    reply_to: CloudEventsString | None = _extension("replyto")
    payload_schema_name: CloudEventsString | None = _extension("payloadschemaname")
    response_schema_name: CloudEventsString | None = _extension("responseschemaname")
    hop_count: HopCount | None = _extension("hopcount")
    deadline: CloudEventsString | None = _extension("deadline")  # a request's, RFC 3339 UTC

    def __init__(self, **attributes: Any) -> None:
        unknown = attributes.keys() - _KEYWORDS
        if unknown:
            raise InvalidEnvelopeError(_unknown_keywords(sorted(unknown)))
        if None in attributes.values():  # None is an absent attribute, as null is on the wire
            attributes = {name: value for name, value in attributes.items() if value is not None}
        data = attributes.get("data")
        if isinstance(data, _BINARY):
            attributes["data"] = bytes(data)
            attributes.setdefault("datacontenttype", BINARY_CONTENT_TYPE)
        elif not is_plain_json(data):
            _check_data(data, attributes.get("id"))
        try:
            super().__init__(**attributes)
        except ValidationError as exc:
            raise InvalidEnvelopeError(
                describe_validation_error(exc, attributes.get("id"))
            ) from None

    # Keywords only: `model_validate` (the wire, via `from_wire`) must not come through here, as
    # pydantic's own RootModel arranges for its `__init__`. tests/unit/test_wire_contract.py
    # checks both paths.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("time")
    @classmethod
    def _utc_time(cls, value: datetime) -> datetime:
        # Kept in UTC so that the wire form is always `...Z` (pydantic writes UTC that way).
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value.utcoffset() else value

    # ---- the wire -------------------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """The structured-mode CloudEvents JSON object (wire names, absent attributes omitted;
        `bytes` data as `data_base64`)."""
        data = self.data
        if type(data) is bytes:
            wire: dict[str, Any] = self.model_dump(
                mode="json", by_alias=True, exclude_none=True, exclude={"data"}
            )
            wire["data_base64"] = base64.b64encode(data).decode("ascii")
            return wire
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        """`to_wire()` as compact JSON text (what goes into EventBridge `Detail`)."""
        return encode_wire(self.to_wire())

    @classmethod
    def from_wire(cls, wire: Any) -> EventEnvelope:
        """Parse a structured-mode CloudEvents object; raise `InvalidEnvelopeError` if it is not.

        On the wire `id`, `source`, `specversion`, `type` and `topic` are required (nothing that
        identifies an event may be invented by a receiver, or a redelivery would look new); an
        absent `correlationid` means the event starts a workflow, so it defaults to the `id`. A
        `null` attribute is an absent one (the JSON format's rule); `data_base64` becomes bytes.
        """
        if not isinstance(wire, dict):
            raise InvalidEnvelopeError(
                f"an envelope must be a JSON object, got {type(wire).__name__}: {str(wire)[:120]!r}"
            )
        if not wire.keys() >= _REQUIRED:
            missing = [name for name in REQUIRED_WIRE_ATTRIBUTES if wire.get(name) is None]
            raise InvalidEnvelopeError(
                f"invalid envelope {wire.get('id', '<no id>')!r}: missing required attribute(s) "
                f"{', '.join(missing)} (see docs/wire-format.md)"
            )
        if wire.get("correlationid") is None and "correlation_id" not in wire:
            wire = {**wire, "correlationid": wire["id"]}
        if "data_base64" in wire:
            wire = _decoded(wire)
        elif type(wire.get("data")) in _BINARY_TYPES:  # from_cloudevent
            wire = {**wire, "data": bytes(wire["data"])}
            wire.setdefault("datacontenttype", BINARY_CONTENT_TYPE)
        time = wire.get("time")
        if type(time) is not str and time is not None and not isinstance(time, datetime):
            raise InvalidEnvelopeError(
                f"invalid envelope {wire['id']!r}: time: must be an RFC 3339 timestamp string "
                f"(got {time!r:.80})"
            )
        try:
            envelope = cls.model_validate(wire)
        except ValidationError as exc:
            if None in wire.values():  # JSON null means absent: read it again without them
                return cls.from_wire(_without_nulls(wire))
            raise InvalidEnvelopeError(describe_validation_error(exc, wire.get("id"))) from None
        if envelope.datacontenttype is None and "datacontenttype" in wire:  # null: the default
            return cls.from_wire(_without_nulls(wire))
        extensions = envelope.__pydantic_extra__
        if extensions:
            if None in extensions.values():
                return cls.from_wire(_without_nulls(wire))
            for name, value in extensions.items():
                problem = extension_problem(name, value)
                if problem is not None:
                    raise InvalidEnvelopeError(f"invalid envelope {envelope.id!r}: {problem}")
        data = envelope.data
        if type(data) is not bytes and not is_plain_json(data):
            _check_data(data, envelope.id)
        return envelope

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

    # ---- the cloudevents SDK --------------------------------------------------------------

    def to_cloudevent(self) -> CloudEvent:
        """This envelope as a `cloudevents` SDK v1.0 `CloudEvent` (imports `cloudevents` lazily)."""
        from cloudevents.core.v1.event import CloudEvent

        wire = self.to_wire()
        data = wire.pop("data", None)
        if wire.pop("data_base64", None) is not None:
            data = self.data
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


#: Keywords `EventEnvelope(...)` takes: every attribute by its Python name or its wire name.
_KEYWORDS = frozenset(EventEnvelope.model_fields) | frozenset(EXTENSION_WIRE_NAMES.values())

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_wire(wire: dict[str, Any]) -> str:
    """A wire envelope as compact JSON (UTF-8 kept as is): EventBridge's `Detail`.

    Raises `InvalidEnvelopeError` for what JSON cannot hold (NaN, Infinity, other objects)."""
    try:
        return _ENCODER.encode(wire)
    except (ValueError, TypeError) as exc:
        raise InvalidEnvelopeError(
            f"invalid envelope {wire.get('id', '<no id>')!r}: data: not valid JSON ({exc})"
        ) from None


#: `str` attributes `wire_of` writes as given (Python name -> wire name); typed ones aside.
_TYPED = ("topic", "hop_count", "response_topic")
_DIRECT_NAMES = {"subject": "subject"} | {
    n: w for n, w in EXTENSION_WIRE_NAMES.items() if n not in _TYPED
}


def wire_of(
    id: str, source: str, event_type: str, topic: EventTopic, data: Any, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """`EventEnvelope(...).to_wire()` for an envelope made now, built without the model, for a
    publisher whose `id`, `source` and `topic` are valid (a derived id, the agent's source, a
    parsed topic). None whenever the model might refuse or write something else (the caller
    then builds the model, which writes it or says what is wrong): an invalid `event_type`, no
    `correlation_id`, `bytes` data or data that is not JSON (NaN, Infinity), an attribute in
    `fields` (Python names, values not None) that is not `subject`, a non-empty printable `str`
    extension or an in-range `int` `hop_count`, a `response_event` that is not an event type, a
    `response_topic` that is not an `EventTopic`. Flat JSON objects are written as they are."""
    if type(event_type) is not str or EVENT_TYPE.fullmatch(event_type) is None:
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
    if is_flat_json_object(data):  # the usual payload: nothing to convert
        wire["data"] = data
    elif data is not None:
        if isinstance(data, _BINARY):
            return None
        try:
            plain = to_jsonable_python(data)
        except ValueError:
            return None
        if has_non_finite_float(plain):
            return None
        wire["data"] = plain
    wire["topic"] = topic.value
    names = _DIRECT_NAMES
    for name, value in fields.items():
        if type(value) is str:
            wire_name = names.get(name)
            if wire_name is None or not value or not value.isprintable():
                return None
            if name == "response_event" and EVENT_TYPE.fullmatch(value) is None:
                return None
            wire[wire_name] = value
        elif name == "response_topic" and type(value) is EventTopic:
            wire["responsetopic"] = value.value
        elif name == "hop_count" and type(value) is int and 0 <= value < 2**31:
            wire["hopcount"] = value
        else:
            return None
    return wire


def _check_data(data: Any, event_id: Any) -> None:
    """Raise `InvalidEnvelopeError` naming `data` unless it can be written as JSON."""
    try:
        check_json_data(data)
    except ValueError as exc:
        raise InvalidEnvelopeError(
            f"invalid envelope {event_id or '<no id>'!r}: data: {exc}"
        ) from None


def _without_nulls(wire: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in wire.items() if value is not None}


def _decoded(wire: dict[str, Any]) -> dict[str, Any]:
    """`wire` with `data_base64` decoded into `bytes` `data` (the JSON format's binary data)."""
    encoded = wire["data_base64"]
    event_id = wire.get("id", "<no id>")
    if "data" in wire:
        raise InvalidEnvelopeError(
            f"invalid envelope {event_id!r}: data_base64: an event carries data or data_base64, "
            "never both"
        )
    try:
        if not isinstance(encoded, str):
            raise TypeError(f"a {type(encoded).__name__}")
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidEnvelopeError(
            f"invalid envelope {event_id!r}: data_base64: must be base64 text (RFC 4648), "
            f"got {str(encoded)[:40]!r} ({exc})"
        ) from None
    decoded = {name: value for name, value in wire.items() if name != "data_base64"}
    decoded["data"] = data
    decoded.setdefault("datacontenttype", BINARY_CONTENT_TYPE)
    return decoded


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _unknown_keywords(unknown: list[str]) -> str:
    python_names = ", ".join(name for name in EventEnvelope.model_fields)
    return (
        f"unknown envelope attribute(s) {', '.join(unknown)}: CloudEvents forbids these names "
        f"and Soorma does not know them. The attributes are {python_names} (or the wire names "
        "of the extensions, e.g. correlationid); put application values in data"
    )
