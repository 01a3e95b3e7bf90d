"""Speed patches applied to moto inside the local cloud's server process only.

Each one leaves moto's observable behaviour unchanged; docs/local-cloud.md says why each exists.
"""

from __future__ import annotations

import functools
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


def cache_moto_module_list() -> None:
    """moto's server lists its own package directory (`os.listdir` + `isdir` on ~150 folders)
    on every request to find the backend for a host (`backends.list_of_moto_modules`); the list
    never changes while the server runs."""
    import moto.backends

    if getattr(moto.backends.list_of_moto_modules, "__soorma_memoized__", False):
        return
    modules = tuple(moto.backends.list_of_moto_modules())

    def list_of_moto_modules() -> Any:
        return iter(modules)

    list_of_moto_modules.__soorma_memoized__ = True  # type: ignore[attr-defined]
    moto.backends.list_of_moto_modules = list_of_moto_modules


def fast_sqs_clock() -> None:
    """moto's SQS asks `unix_time()` (two naive datetimes and a subtraction) for every message
    it looks at: visibility and delay checks run per message per receive and per attribute
    read, so the clock dominates receives on deep queues. Without an argument it is
    `time.time()`."""
    import time

    import moto.sqs.models as sqs_models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010


def single_pass_queue_attributes() -> None:
    """`SQSBackend.get_queue_attributes` rebuilds `queue.attributes` (every attribute, with
    O(queue depth) message counts) three times per attribute asked for, and every received
    message pays one such call for its retention check. Build the attributes once, and read the
    retention period straight from the queue."""
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName

    backend = sqs_models.SQSBackend

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((n for n in attribute_names if n not in valid), None)
        if invalid or invalid == "":
            raise InvalidAttributeName(invalid)
        every = queue.attributes
        if "All" in attribute_names:
            return every
        return {n: every[n] for n in attribute_names if every.get(n) is not None}

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > getattr(sqs_models, "unix_time")())  # noqa: B009

    setattr(backend, "get_queue_attributes", get_queue_attributes)  # noqa: B010
    setattr(  # noqa: B010
        backend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
    )


def single_pass_message_counts() -> None:
    """Every SendMessage reads `queue.attributes` (for one FIFO setting), which counts visible,
    in-flight and delayed messages with three scans calling two clock reads per message; every
    ReceiveMessage scans for visible messages the same way. Read the clock once per scan and
    compare the messages' own timestamps (same rules: visible once `now > visible_at`, delayed
    while `now < delayed_until`). Still O(queue depth), about ten times cheaper."""
    import time

    from moto.sqs.models import Queue

    def now_ms() -> float:
        return time.time() * 1000.0

    def messages(self: Any) -> list[Any]:
        now = now_ms()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def visible(self: Any) -> int:
        return len(messages(self))

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(visible)  # type: ignore[assignment,method-assign]


def memoize_name_helpers() -> None:
    """Every request runs `inspect.getmembers` on its response class to list its methods
    (`method_names_from_class`, in `BaseResponse.call_action`), and every `queue.attributes`
    converts ~15 CamelCase names to snake_case: both are pure functions of their argument."""
    import moto.core.responses as responses
    import moto.sqs.models as sqs_models
    from moto.core import utils

    to_snake = functools.lru_cache(maxsize=4096)(utils.camelcase_to_underscores)
    methods = functools.lru_cache(maxsize=1024)(
        lambda clazz: tuple(utils.method_names_from_class(clazz))
    )

    def method_names_from_class(clazz: object) -> list[str]:
        return list(methods(clazz))

    for module in (utils, responses, sqs_models):
        module.camelcase_to_underscores = to_snake  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined]


def quiet_request_log() -> None:
    """Werkzeug logs one line per request: at local-cloud rates that is most of the output."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def apply_all() -> list[str]:
    """Apply every patch; return their names (the server prints them)."""
    patches = [
        memoize_jsonpath_parse,
        cache_moto_module_list,
        fast_sqs_clock,
        single_pass_queue_attributes,
        single_pass_message_counts,
        memoize_name_helpers,
        quiet_request_log,
    ]
    for patch in patches:
        patch()
    return [p.__name__ for p in patches]
