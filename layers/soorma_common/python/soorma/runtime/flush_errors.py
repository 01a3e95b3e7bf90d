"""The errors of handled records whose events the flush did not put (transient: retried).

A record is handled when its handler succeeded and its events are stored with its claim; its
redelivery re-flushes those events (same ids) without running the handler again.
"""

from __future__ import annotations

from soorma_common.errors import PublishError


def unflushed(cause: str) -> PublishError:
    """The error of a handled record whose events could not all be put on the bus."""
    return PublishError(
        f"handled, but its events could not be put on the bus (PutEvents failed: {cause}); "
        "the record will be retried and its stored events put again"
    )


def unrecorded(cause: BaseException) -> PublishError:
    """The error of a handled record whose requests could not be recorded (nor its events put,
    since a reply must never outrun its request's record)."""
    error = PublishError(
        "handled, but the requests among its events could not be recorded "
        f"({type(cause).__name__}: {cause}), so they were not put; the record will be retried "
        "and its stored events recorded and put again"
    )
    error.__cause__ = cause
    return error
