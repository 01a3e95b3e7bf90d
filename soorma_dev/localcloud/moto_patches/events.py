"""Speed patches to moto's EventBridge (`moto/events/`): input-path parsing, clock reads and
the per-rule copy of the event message in `PutEvents`."""

from __future__ import annotations

import functools
import importlib
from typing import Any


def memoize_jsonpath_parse() -> None:
    """moto's EventBridge builds a jsonpath parser for 8 input paths per event per target
    (`moto/events/utils.py`, `EventTemplateParser.parse` imports `jsonpath_ng.ext.parse` on every
    call): the parsed expressions are immutable, so cache them by path text."""
    import jsonpath_ng.ext

    parse = getattr(jsonpath_ng.ext, "parse")  # noqa: B009
    if getattr(parse, "__soorma_memoized__", False):
        return
    cached: Any = functools.lru_cache(maxsize=1024)(parse)
    cached.__soorma_memoized__ = True
    setattr(jsonpath_ng.ext, "parse", cached)  # noqa: B010


def fast_events_clock() -> None:
    """EventBridge's `PutEvents` reads `unix_time()` (two naive datetimes and a subtraction)
    twice per event per rule on the bus, matched or not; without an argument it is
    `time.time()` (as in `fast_sqs_clock`)."""
    import time

    import moto.events.models as events_models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    setattr(events_models, "unix_time", unix_time)  # noqa: B010


def shallow_event_message_copy() -> None:
    """`PutEvents` deep-copies its template event message (`_BASE_EVENT_MESSAGE`: strings, an
    empty list and an empty dict) once per event per rule on the bus. A copy with a new list
    and dict is the same thing at a fraction of the cost; anything else still goes to
    `copy.deepcopy`."""
    import copy
    import types

    from moto.events.utils import _BASE_EVENT_MESSAGE as base

    events_models = importlib.import_module("moto.events.models")
    if isinstance(events_models.copy, types.SimpleNamespace):
        return
    plain = all(isinstance(v, str) or v in ([], {}) for v in base.values())

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if value is base and plain:
            return {k: v if isinstance(v, str) else type(v)() for k, v in base.items()}
        return copy.deepcopy(value, memo)

    setattr(events_models, "copy", types.SimpleNamespace(deepcopy=deepcopy))  # noqa: B010
