"""The one seam to tracing. Tracing (Powertools Tracer, the X-Ray SDK) is imported only when it is
active: on Lambda, with a trace id, and not disabled by `POWERTOOLS_TRACE_DISABLED`. The X-Ray SDK
is in maintenance (support ends 2027-02-25): swapping it for OpenTelemetry touches this file only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

_tracer: Any = None


def tracing_active() -> bool:
    """Whether spans are recorded in this process."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes"}
    return (
        bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        and bool(os.environ.get("_X_AMZN_TRACE_ID"))
        and not disabled
    )


@contextlib.contextmanager
def span(name: str, annotations: dict[str, str | None]) -> Iterator[None]:
    """A subsegment named `name` with searchable annotations, or nothing when tracing is off."""
    if not tracing_active():
        yield
        return
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer()
    with _tracer.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            if value is not None:
                subsegment.put_annotation(key, value)
        yield
