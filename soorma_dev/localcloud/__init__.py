"""The local cloud: moto's server on 127.0.0.1, the platform's resources made from the agents'
manifests, and one worker process per agent that pumps its queues into its `lambda_handler` as
Lambda's SQS event-source mapping would. See docs/local-cloud.md.

Names are imported lazily, so that `python -m soorma_dev.localcloud.worker` (and `.server`)
start without importing the rest of the package first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from soorma_dev.localcloud.client import LocalCloudClient as LocalCloudClient
    from soorma_dev.localcloud.cloud import LocalCloud as LocalCloud
    from soorma_dev.localcloud.models import ActivityLine as ActivityLine
    from soorma_dev.localcloud.models import DeadLetter as DeadLetter
    from soorma_dev.localcloud.models import Handling as Handling
    from soorma_dev.localcloud.models import TraceNode as TraceNode
    from soorma_dev.localcloud.state import LocalCloudNotRunning as LocalCloudNotRunning
    from soorma_dev.localcloud.workers import WorkerError as WorkerError

_EXPORTS = {
    "ActivityLine": "models",
    "DeadLetter": "models",
    "Handling": "models",
    "TraceNode": "models",
    "LocalCloud": "cloud",
    "LocalCloudClient": "client",
    "LocalCloudNotRunning": "state",
    "WorkerError": "workers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'soorma_dev.localcloud' has no attribute {name!r}")
    return getattr(importlib.import_module(f"soorma_dev.localcloud.{module}"), name)
