"""Command-line input turned into the platform's types, or a `CommandError` saying what to fix."""

from __future__ import annotations

import json
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="""quote it for the shell, e.g. --data '{"order_id": "o-1"}', or use @file.json""",
        ) from None


def check_event(event_type: str, topic: EventTopic, data: Any, **attributes: Any) -> None:
    """Raise `CommandError` if these would not make a valid envelope (before any cloud is asked)."""
    from soorma_common.envelope import EventEnvelope
    from soorma_common.errors import InvalidEnvelopeError

    given = {name: value for name, value in attributes.items() if value is not None}
    try:
        EventEnvelope(source="soorma.cli", type=event_type, topic=topic, data=data, **given)
    except InvalidEnvelopeError as exc:
        raise CommandError(
            f"not a valid event: {exc}",
            hint="event types are `domain.action` without spaces, e.g. order.placed",
        ) from None
