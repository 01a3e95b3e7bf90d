"""Speed patches to moto's request machinery, shared by every service: backend lookup, response
method names, random strings, the request log."""

from __future__ import annotations

import functools
from typing import Any


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


def fast_random_strings() -> None:
    """SQS makes a 185-letter receipt handle per received message and moto a 20-character
    request id per response, each with one `random.choice` call per character
    (`moto/sqs/utils.py`, `generate_receipt_handle`; `MotoRandom.get_random_string`). One
    `choices(k=...)` call on the same (seedable) generator draws from the same alphabet."""
    import string

    import moto.sqs.models as sqs_models
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    if getattr(MotoRandom.get_random_string, "__soorma_memoized__", False):
        return
    letters = string.ascii_lowercase

    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(letters, k=185))

    def get_random_string(
        self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        text = "".join(self.choices(pool, k=length))
        return text.lower() if lower_case else text

    get_random_string.__soorma_memoized__ = True  # type: ignore[attr-defined]
    setattr(sqs_models, "generate_receipt_handle", generate_receipt_handle)  # noqa: B010
    MotoRandom.get_random_string = get_random_string  # type: ignore[method-assign]


def quiet_request_log() -> None:
    """Werkzeug logs one line per request: at local-cloud rates that is most of the output."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
