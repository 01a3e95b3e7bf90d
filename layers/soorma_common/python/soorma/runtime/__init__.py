"""The Lambda runtime: SQS batch in, partial batch response out, exactly-once effect.

`LambdaRuntime(agent, transport=..., on_outcome=...)`: all its I/O goes through one `Transport`
(default `AwsTransport`, boto3), and each record's final outcome to an optional observer.
"""

from soorma.runtime.aws_transport import AwsTransport
from soorma.runtime.handler import LambdaRuntime
from soorma.runtime.outcomes import Outcome, OutcomeObserver, RecordOutcome
from soorma.runtime.transport import ClaimKeeper, Transport

__all__ = [
    "AwsTransport",
    "ClaimKeeper",
    "LambdaRuntime",
    "Outcome",
    "OutcomeObserver",
    "RecordOutcome",
    "Transport",
]
