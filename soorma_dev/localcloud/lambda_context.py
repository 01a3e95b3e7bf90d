"""A Lambda-like context object for each invocation the pump makes."""

from __future__ import annotations

import time
import uuid

from soorma_dev.localcloud.processes import LOCAL_REGION

LOCAL_ACCOUNT = "123456789012"


class LocalLambdaContext:
    """What Lambda passes as `context`: names, a fresh request id, and the remaining time."""

    def __init__(self, function_name: str, timeout_seconds: float, memory_mb: int = 256) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before this invocation's timeout (never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
