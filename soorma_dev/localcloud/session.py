"""A boto3 session whose clients talk to the local cloud's moto server."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from soorma_dev.localcloud.processes import LOCAL_CREDENTIALS, LOCAL_REGION


class EndpointSession(boto3.session.Session):  # type: ignore[misc]
    """`boto3.Session` with dummy credentials; `client()` and `resource()` use one endpoint."""

    def __init__(self, endpoint_url: str) -> None:
        super().__init__(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=LOCAL_REGION,
        )
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """A client on the local endpoint (unless `endpoint_url` is given)."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", Config(retries={"mode": "standard", "max_attempts": 3}))
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        """A resource on the local endpoint (unless `endpoint_url` is given)."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(*args, **kwargs)
