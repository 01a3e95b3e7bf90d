"""`EventDefinition`: an event's name, topic, description and JSON Schemas, for the registry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from soorma_common.json_values import first_non_utf8
from soorma_common.naming import check_event_type
from soorma_common.topics import EventTopic

JsonSchema = dict[str, Any]


def schema_of(schema: Any) -> JsonSchema | None:
    """Return a JSON Schema dict for a pydantic model class, a JSON Schema dict, or None."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    raise TypeError(
        f"a schema must be a pydantic model class or a JSON Schema dict, got {schema!r}"
    )


class EventDefinition(BaseModel):
    """What an event is: registered at deploy so that planners (and LLMs) can discover it.

    `payload_schema` / `response_schema` accept a pydantic model class or a JSON Schema dict;
    a model class is kept (see `payload_model`) so that validation can use pydantic itself.
    """

    model_config = ConfigDict(frozen=True)

    event_name: str = Field(description="the event type (`naming.check_event_type`)")
    topic: EventTopic
    description: str = ""
    payload_schema: JsonSchema | None = None
    response_schema: JsonSchema | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _payload_model: type[BaseModel] | None = PrivateAttr(default=None)
    _response_model: type[BaseModel] | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        payload = data.get("payload_schema")
        response = data.get("response_schema")
        data["payload_schema"] = schema_of(payload)
        data["response_schema"] = schema_of(response)
        super().__init__(**data)
        self._payload_model = _model_or_none(payload)
        self._response_model = _model_or_none(response)

    @field_validator("topic", mode="before")
    @classmethod
    def _known_topic(cls, value: Any) -> EventTopic:
        return EventTopic.parse(value)

    @field_validator("event_name")
    @classmethod
    def _valid_event_name(cls, value: str) -> str:
        return check_event_type(value)

    @model_validator(mode="after")
    def _unicode_text(self) -> EventDefinition:
        """Refuse text that is not valid Unicode (a lone surrogate such as `json.loads` makes
        of `"\\ud800"`): it cannot be written as UTF-8, so no registry or bus could store it."""
        for field in ("description", "payload_schema", "response_schema", "metadata"):
            where = first_non_utf8(getattr(self, field))
            if where is not None:
                raise ValueError(
                    f"{field}{where} is not valid Unicode text (it holds a lone surrogate, such "
                    "as json.loads makes of '\\ud800', which cannot be encoded as UTF-8): "
                    "remove or replace the character"
                )
        return self

    @property
    def payload_model(self) -> type[BaseModel] | None:
        """The pydantic model the payload schema came from, if it came from one."""
        return self._payload_model

    @property
    def response_model(self) -> type[BaseModel] | None:
        """The pydantic model the response schema came from, if it came from one."""
        return self._response_model


def _model_or_none(schema: Any) -> type[BaseModel] | None:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    return None
