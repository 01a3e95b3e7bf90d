"""AWS clients, created lazily once per process (per cold start on Lambda).

They are botocore clients from one botocore session: what `boto3.client` returns for these
services (boto3 adds client behaviour for S3 only), without importing boto3 and s3transfer on
the cold start, and with a data loader that finds a service's model without first listing
every service's directory (`soorma.service_loader`). botocore honours `AWS_ENDPOINT_URL` (the
local cloud sets it), so no endpoint is configured here. `use()` installs a client of one's own
for a service; `reset()` forgets the clients, for tests that change the environment.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_session: Any = None


def client(service: str) -> Any:
    """The process-wide client for `service` ("events", "sqs", "dynamodb", ...)."""
    found = _clients.get(service)
    if found is not None:
        return found
    global _session
    with _lock:
        if service not in _clients:
            from botocore.config import Config
            from botocore.session import get_session

            from soorma.service_loader import service_loader

            if _session is None:
                _session = get_session()
                _session.register_component("data_loader", service_loader(_session))
            _clients[service] = _session.create_client(
                service, config=Config(retries={"mode": "standard", "max_attempts": 3})
            )
        return _clients[service]


def use(service: str, client_: Any) -> None:
    """Make `client_` this process's client for `service` (local tools route a service
    elsewhere, e.g. the local cloud's fast mode keeps `events` and `sqs` in process)."""
    with _lock:
        _clients[service] = client_


def reset() -> None:
    """Forget every client (the next `client()` call builds a new one from the environment)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
