"""Command-line input turned into the platform's types, or a `CommandError` saying what to fix."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from soorma_common.errors import UnknownTopicError
from soorma_common.topics import EventTopic
from soorma_dev.cli.errors import CommandError


def parse_topic(value: str) -> EventTopic:
    """The topic named on the command line; the error lists the 8 topics."""
    try:
        return EventTopic.parse(value)
    except UnknownTopicError:
        allowed = ", ".join(t.value for t in EventTopic)
        raise CommandError(
            f"unknown topic {value!r}",
            hint=f"Soorma has exactly 8 topics: {allowed}",
        ) from None


def parse_data(value: str) -> Any:
    """Event data from `--data`: inline JSON, or `@path` to read JSON from a file."""
    source = "--data"
    text = value
    if value.startswith("@"):
        file = Path(value[1:])
        if not file.is_file():
            raise CommandError(
                f"--data {value}: file {file} not found",
                hint="give a JSON file that exists, e.g. --data @order.json",
            )
        text = file.read_text()
        source = str(file)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except _NotJsonConstant as exc:
        raise CommandError(
            f"{source} holds {exc.constant}, which JSON does not allow (nor does EventBridge)",
            hint="use null or a string for a missing or infinite number",
        ) from None
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="""quote it for the shell, e.g. --data '{"order_id": "o-1"}', or use @file.json""",
        ) from None


class _NotJsonConstant(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _refuse_constant(constant: str) -> Any:
    raise _NotJsonConstant(constant)


def check_identifier(option: str, value: str) -> str:
    """A tenant or user id from the command line, as the memory table's keys take it: 1 to 256
    characters without `#`; else a `CommandError`."""
    from soorma.memory.keys import MAX_ID_LENGTH, SEPARATOR

    if not value or len(value) > MAX_ID_LENGTH or SEPARATOR in value:
        shown = value if len(value) <= 40 else f"{value[:40]}… ({len(value)} characters)"
        raise CommandError(
            f"{option} {shown!r} is not a valid id",
            hint=f"ids are 1 to {MAX_ID_LENGTH} characters without '#', e.g. {option} acme",
        )
    return value


def check_event(event_type: str, topic: EventTopic, data: Any, **attributes: Any) -> None:
    """Raise `CommandError` if these would not make a valid envelope, or one over the size
    EventBridge takes (before any cloud is asked)."""
    from soorma.config import settings
    from soorma.publishing import encode_event
    from soorma_common.envelope import EventEnvelope
    from soorma_common.errors import EventTooLargeError, InvalidEnvelopeError

    given = {name: value for name, value in attributes.items() if value is not None}
    for option in ("tenant_id", "user_id"):
        if option in given:
            check_identifier(f"--{option.removesuffix('_id')}", given[option])
    try:
        envelope = EventEnvelope(
            source="soorma.cli", type=event_type, topic=topic, data=data, **given
        )
        encode_event(envelope.to_wire(), settings().max_event_bytes)
    except InvalidEnvelopeError as exc:
        raise CommandError(
            f"not a valid event: {exc}",
            hint="event types are `domain.action` without spaces, e.g. order.placed",
        ) from None
    except EventTooLargeError as exc:
        raise CommandError(
            str(exc).split(": store")[0],
            hint="store the payload elsewhere (e.g. S3) and send a reference to it",
        ) from None


def check_port(port: int) -> int:
    """A TCP port for `--port` (0: a free one); else a `CommandError`."""
    if not 0 <= port <= 65535:
        raise CommandError(
            f"--port {port} is not a TCP port",
            hint="give 1-65535, or 0 (the default) for a free one",
        )
    return port


def check_positive(option: str, value: float, example: str) -> float:
    """A finite number above 0 (`--time-scale`, `--timeout`); else a `CommandError`."""
    if not (math.isfinite(value) and value > 0):
        raise CommandError(
            f"{option} {value} must be a number above 0", hint=f"e.g. {option} {example}"
        )
    return value


def check_folder(option: str, path: Path) -> Path:
    """A path that is a folder or does not exist yet (it is created); a file is a
    `CommandError`."""
    if path.exists() and not path.is_dir():
        raise CommandError(
            f"{option} {path} is a file, not a folder",
            hint=f"give a folder (created if missing), or remove the file {path}",
        )
    return path
