"""Speed patches applied to moto inside the local cloud's server process only.

Each one leaves moto's observable behaviour unchanged; docs/local-cloud.md says why each exists.
One module per service: `core.py` (request machinery), `sqs.py`, `dynamodb.py`, `events.py`.
`apply_all` refuses a moto version the patches were not checked against (`version.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from soorma_dev.localcloud.moto_patches import core, dynamodb, events, sqs
from soorma_dev.localcloud.moto_patches.version import (
    SUPPORTED_MOTO_VERSIONS,
    UnsupportedMotoVersionError,
    check_moto_version,
    installed_moto_version,
)

__all__ = [
    "PATCHES",
    "SUPPORTED_MOTO_VERSIONS",
    "UnsupportedMotoVersionError",
    "apply_all",
    "check_moto_version",
    "installed_moto_version",
]

#: Every patch, in the order `apply_all` applies them.
PATCHES: tuple[Callable[[], None], ...] = (
    events.memoize_jsonpath_parse,
    core.cache_moto_module_list,
    sqs.fast_sqs_clock,
    sqs.single_pass_queue_attributes,
    sqs.single_pass_message_counts,
    core.memoize_name_helpers,
    dynamodb.memoize_update_expressions,
    dynamodb.memoize_condition_expressions,
    dynamodb.cache_traverser_node_types,
    dynamodb.fast_ast_traversal,
    core.fast_random_strings,
    sqs.single_pass_delete_message,
    sqs.atomic_receive_message,
    events.fast_events_clock,
    events.shallow_event_message_copy,
    core.quiet_request_log,
)


def apply_all() -> list[str]:
    """Apply every patch; return their names (the server prints them). Raise
    `UnsupportedMotoVersionError`, before patching anything, on a moto version they were not
    checked against."""
    check_moto_version(installed_moto_version())
    for patch in PATCHES:
        patch()
    return [patch.__name__ for patch in PATCHES]
