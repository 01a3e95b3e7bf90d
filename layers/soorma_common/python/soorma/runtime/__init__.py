"""The Lambda runtime: SQS batch in, partial batch response out, exactly-once effect."""

from soorma.runtime.handler import LambdaRuntime

__all__ = ["LambdaRuntime"]
