"""Payload checks against registered schemas, on publish and on consume.

`validator_for_agent(agent)` is called once per runtime (one cold start). The returned callable
`(event_type, data) -> None` raises `SchemaValidationError` (permanent) naming the field, the value
and the rule. Schemas come from the agent's own `EventDefinition`s first (a pydantic model when the
definition was made from one), then from the registry table (`SOORMA_REGISTRY_TABLE`), read once
per event type and kept `SOORMA_REGISTRY_CACHE_SECONDS` (60 s): "no schema" is cached too, and
expires the same way, so an event registered (or changed) after a cold start is enforced within a
minute. An event with no schema passes, unless `SOORMA_SCHEMA_MODE=strict`.

JSON Schemas are compiled with fastjsonschema (the engine of Powertools' validation utility,
whose `validate()` recompiles the schema on every call) once per distinct schema per process,
after `soorma.registry.schemas.check_schema`: a schema that is not valid JSON Schema (or does not
compile) makes every payload of its event fail with `InvalidSchemaError`, a permanent error that
names the event and the fault in the schema (never a transient error that is retried).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from soorma.config import settings
from soorma.registry.entries import EventRecord
from soorma.registry.schemas import InvalidSchemaError, compile_checked
from soorma.registry.table import RegistryTable
from soorma_common.definitions import EventDefinition, JsonSchema
from soorma_common.errors import SchemaValidationError

PayloadCheck = Callable[[Any], Any]
SchemaLookup = Callable[[str], EventRecord | None]

_MAX_VALUE_CHARS = 80
#: How long a schema read from the registry (or its absence) is trusted by default.
DEFAULT_CACHE_SECONDS = 60.0


class PayloadValidator:
    """Checks payloads by event type.

    Checks built from the agent's own definitions are kept for the validator's lifetime; checks
    (and misses) from `lookup` (the registry) are kept `cache_seconds`, then looked up again.
    """

    def __init__(
        self,
        definitions: Iterable[EventDefinition] = (),
        *,
        lookup: SchemaLookup | None = None,
        strict: bool = False,
        response: bool = False,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._definitions = {d.event_name: d for d in definitions}
        self._lookup = lookup
        self.strict = strict
        self._response = response
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._checks: dict[str, tuple[PayloadCheck | None, float]] = {}

    def __call__(self, event_type: str, data: Any) -> None:
        """Raise `SchemaValidationError` when `data` breaks the schema of `event_type`."""
        self.check(event_type, data)

    def check(self, event_type: str, data: Any) -> Any:
        """Validate and return the payload (with JSON Schema defaults filled in)."""
        now = self._clock()
        cached = self._checks.get(event_type)
        if cached is None or now >= cached[1]:
            cached = self._checks[event_type] = self._compile(event_type, now)
        check = cached[0]
        if check is None:
            if self.strict:
                raise SchemaValidationError(
                    f"event {event_type!r} has no registered schema and SOORMA_SCHEMA_MODE is "
                    "strict: declare an EventDefinition with a payload schema for it"
                )
            return data
        try:
            return check(data)
        except ValidationError as exc:
            raise _from_pydantic(event_type, exc) from None
        except RecursionError:
            raise SchemaValidationError(
                f"event {event_type!r}: the {'response' if self._response else 'payload'} check "
                "recursed past Python's limit: the data is nested too deeply (about 1,000 levels "
                "of objects and arrays), or the schema's $refs loop; flatten the data, or fix "
                "the schema"
            ) from None
        except Exception as exc:
            import fastjsonschema

            if isinstance(exc, fastjsonschema.JsonSchemaValueException):
                raise _from_fastjsonschema(event_type, exc) from None
            raise

    def _compile(self, event_type: str, now: float) -> tuple[PayloadCheck | None, float]:
        """The check of `event_type` and until when it may be trusted."""
        which = "response" if self._response else "payload"
        definition = self._definitions.get(event_type)
        if definition is not None:
            model = definition.response_model if self._response else definition.payload_model
            if model is not None:
                return _model_check(model), math.inf
            schema = definition.response_schema if self._response else definition.payload_schema
            if schema is not None:
                return _schema_check(schema, event_type, which), math.inf
        expires = now + self.cache_seconds
        record = self._lookup(event_type) if self._lookup is not None else None
        if record is None:
            return None, expires
        schema = record.response_schema if self._response else record.payload_schema
        return (_schema_check(schema, event_type, which) if schema is not None else None), expires


def compile_schema(schema: JsonSchema, *, event: str = "(unnamed)") -> PayloadCheck:
    """A fastjsonschema check of `schema`, compiled once per distinct schema in this process.

    Raises `InvalidSchemaError` (permanent) when `schema` is not a valid JSON Schema.
    """
    return compile_checked(schema, event=event)


def _schema_check(schema: JsonSchema, event_type: str, which: str) -> PayloadCheck:
    """The compiled check, or one that raises the schema's `InvalidSchemaError` (kept, like any
    check, so that a broken schema is diagnosed once, not on every payload)."""
    try:
        return compile_checked(schema, event=event_type, which=which)
    except InvalidSchemaError as exc:
        error = exc

        def refuse(data: Any) -> Any:
            raise InvalidSchemaError(str(error))

        return refuse


def _model_check(model: type[BaseModel]) -> PayloadCheck:
    def check(data: Any) -> Any:
        model.model_validate(data)
        return data

    return check


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _from_pydantic(event_type: str, exc: ValidationError) -> SchemaValidationError:
    error = exc.errors()[0]
    field = (
        "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        or "(payload)"
    )
    value = "missing" if error["type"] == "missing" else _show(error.get("input"))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return SchemaValidationError(
        f"event {event_type!r}: field {field!r} = {value} breaks rule {error['type']!r} "
        f"({error['msg']}){more}; fix the payload or publish a new event version"
    )


def _from_fastjsonschema(event_type: str, exc: Any) -> SchemaValidationError:
    path = str(exc.name or "data")
    field = path[len("data") :].lstrip(".") if path.startswith("data") else path
    value = _show(exc.value)
    rule = str(exc.rule or "schema")
    if exc.rule == "required" and isinstance(exc.value, dict):
        missing = [name for name in exc.rule_definition if name not in exc.value]
        if missing:
            field = f"{field}.{missing[0]}" if field else str(missing[0])
            value = "missing"
    return SchemaValidationError(
        f"event {event_type!r}: field {field or '(payload)'!r} = {value} breaks rule {rule!r} "
        f"({rule} {_show(exc.rule_definition)}: {exc.message}); fix the payload or publish a new "
        "event version"
    )


def registry_lookup(table: str) -> SchemaLookup:
    """Read one event's record from the registry table (GetItem; the validator caches it for
    `SOORMA_REGISTRY_CACHE_SECONDS`)."""
    registry = RegistryTable(table)
    return registry.get_event


def validator_for_agent(agent: Any) -> PayloadValidator | None:
    """The payload check of an agent's runtime (publish and consume), or None when nothing can
    ever be checked (no declared schema, no registry table, lenient mode)."""
    conf = settings()
    declared = [
        d
        for d in [*agent.events_consumed, *(agent.events_produced or ())]
        if isinstance(d, EventDefinition)
    ]
    with_schema = [d for d in declared if d.payload_schema is not None]
    table = conf.registry_table
    if not with_schema and not table and not conf.strict_schemas:
        return None
    return PayloadValidator(
        with_schema,
        lookup=registry_lookup(table) if table else None,
        strict=conf.strict_schemas,
        cache_seconds=conf.registry_cache_seconds,
    )


def validator_for_publisher() -> PayloadValidator | None:
    """The payload check for `EventPublisher` (code outside handlers): registry schemas only."""
    conf = settings()
    if not conf.registry_table and not conf.strict_schemas:
        return None
    return PayloadValidator(
        lookup=registry_lookup(conf.registry_table) if conf.registry_table else None,
        strict=conf.strict_schemas,
        cache_seconds=conf.registry_cache_seconds,
    )
