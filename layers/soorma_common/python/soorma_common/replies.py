"""Failure replies: the one payload shape every requester understands, whatever its reply type.

A request's reply type (`responseevent`) usually has a schema for success. When the work fails
for a domain reason, the replier sends `{"success": false, "error": "<message>"}` under the same
reply type; that exact shape is exempt from the reply type's payload schema, on publish and on
consume, so that the requester receives it instead of dead-lettering it. Anything else (extra
keys, a non-string error, `success: true`) is an ordinary payload and is validated as usual.
"""

from __future__ import annotations

from typing import Any

FAILURE_REPLY_KEYS = frozenset({"success", "error"})


def failure_reply(error: str) -> dict[str, Any]:
    """The payload of a failure reply carrying `error` (a message for humans and logs)."""
    return {"success": False, "error": error}


def is_failure_reply(data: Any) -> bool:
    """Whether `data` is exactly a failure reply: `{"success": false, "error": <string>}`."""
    return (
        type(data) is dict
        and len(data) == 2
        and data.get("success") is False
        and type(data.get("error")) is str
        and data.keys() == FAILURE_REPLY_KEYS
    )
