"""boto3 clients, created lazily once per process (per cold start on Lambda).

boto3 honours `AWS_ENDPOINT_URL` (the local cloud sets it), so no endpoint is configured here.
`reset()` forgets the clients, for tests that change the environment.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The process-wide boto3 client for `service` ("events", "sqs", "dynamodb", ...)."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            _clients[service] = boto3.client(
                service, config=Config(retries={"mode": "standard", "max_attempts": 3})
            )
        return _clients[service]


def reset() -> None:
    """Forget every client (the next `client()` call builds a new one from the environment)."""
    with _lock:
        _clients.clear()
