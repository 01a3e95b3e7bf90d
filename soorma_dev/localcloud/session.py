"""A boto3 session whose clients talk to the local cloud's moto server."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from soorma_dev.localcloud.processes import LOCAL_CREDENTIALS, LOCAL_REGION


class EndpointSession(boto3.session.Session):  # type: ignore[misc]
    """`boto3.Session` with dummy credentials; `client()` and `resource()` use the local
    endpoint, or the one `service_endpoints` names for that service (`{"dynamodb": url}`)."""

    def __init__(self, endpoint_url: str, service_endpoints: dict[str, str] | None = None) -> None:
        super().__init__(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=LOCAL_REGION,
        )
        self.endpoint_url = endpoint_url
        self.service_endpoints = dict(service_endpoints or {})

    def endpoint_for(self, service: str) -> str:
        """The local endpoint that serves `service`."""
        return self.service_endpoints.get(service, self.endpoint_url)

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        """A client on the local endpoint (unless `endpoint_url` is given)."""
        kwargs.setdefault("endpoint_url", self.endpoint_for(service_name))
        kwargs.setdefault("config", Config(retries={"mode": "standard", "max_attempts": 3}))
        return super().client(service_name, *args, **kwargs)

    def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        """A resource on the local endpoint (unless `endpoint_url` is given)."""
        kwargs.setdefault("endpoint_url", self.endpoint_for(service_name))
        return super().resource(service_name, *args, **kwargs)
