"""The role and log group every Soorma Lambda function gets (agents and platform functions).

Construct ids stay "Role" and "LogGroup" under the caller's construct, so templates keep their
logical ids.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


def lambda_role(scope: Construct, description: str) -> iam.Role:
    """An execution role assumed by Lambda, with no statement yet (callers add least privilege)."""
    return iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )


def function_log_group(
    scope: Construct, function_name: str | None, retention: logs.RetentionDays
) -> logs.LogGroup:
    """The function's log group (`/aws/lambda/<name>`; a generated name when `function_name`
    is None), with a retention, removed with the stack."""
    return logs.LogGroup(
        scope,
        "LogGroup",
        log_group_name=f"/aws/lambda/{function_name}" if function_name else None,
        retention=retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
