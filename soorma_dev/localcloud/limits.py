"""EventBridge limits moto does not check, enforced in front of the local cloud's moto server.

`PutEvents`: the entries of one request together may be at most 256 KB, each entry measured
as AWS measures it ("Calculating PutEvents event entry size"): the UTF-8 bytes of `Source`,
`DetailType`, `Detail` and each of `Resources`, plus 14 bytes for a `Time`. AWS refuses a larger
request as a whole (HTTP 400, `ValidationException`); moto would accept it, so a producer that
works locally would fail on AWS. The fast mode's routing applies the same check
(`entries_too_large`). See docs/local-cloud.md ("What the local cloud checks").
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

#: The most bytes the entries of one PutEvents request may take together.
PUT_EVENTS_MAX_BYTES = 256 * 1024
#: What a `Time` field counts for, whatever its value.
TIME_BYTES = 14
PUT_EVENTS_TARGET = "AWSEvents.PutEvents"


def entry_size(entry: dict[str, Any]) -> int:
    """The size of one PutEvents entry, as AWS computes it."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        value = entry.get(field)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or ():
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    return size


def entries_too_large(entries: Iterable[Any]) -> str | None:
    """The error message AWS would give for a PutEvents request of these entries, or None if
    they are within the limit. The one check of both local modes: the faithful mode's
    middleware (`request_too_large`) and the fast mode's routing (`fast.eventbridge`)."""
    total = sum(entry_size(e) for e in entries if isinstance(e, dict))
    if total <= PUT_EVENTS_MAX_BYTES:
        return None
    return (
        f"Total size of the entries in the request is over the limit: {total} bytes, "
        f"over {PUT_EVENTS_MAX_BYTES}."
    )


def request_too_large(body: bytes) -> str | None:
    """The error message AWS would give for this PutEvents body, or None if it is within the
    limit (or not readable: moto answers that one)."""
    try:
        entries = json.loads(body).get("Entries") or []
    except (ValueError, AttributeError):
        return None
    return entries_too_large(entries)


class PutEventsSizeLimit:
    """WSGI middleware: refuses a PutEvents request over `PUT_EVENTS_MAX_BYTES` as AWS does
    (400, `ValidationException`); every other request goes to `app` unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") != PUT_EVENTS_TARGET:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        message = request_too_large(body)
        if message is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        payload = json.dumps({"__type": "ValidationException", "message": message}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(payload))),
                ("x-amzn-ErrorType", "ValidationException"),
            ],
        )
        return [payload]
