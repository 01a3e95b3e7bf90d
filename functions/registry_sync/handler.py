"""The registry-sync custom resource: writes the manifests' events and agents to the registry.

A platform function, not an agent (it defines no `soorma` Agent). CloudFormation invokes it on
stack create, update (and rollback) and delete; see `soorma.registry.custom_resource`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from soorma.registry.custom_resource import handle_and_respond

logger = Logger(service="registry-sync")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: sync, then PUT the response to CloudFormation's `ResponseURL`."""
    logger.info(
        "registry sync request",
        extra={
            "request_type": event.get("RequestType"),
            "request_id": event.get("RequestId"),
            "logical_id": event.get("LogicalResourceId"),
        },
    )
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    response = handle_and_respond(event, remaining_ms=remaining_ms)
    logger.info(
        "registry sync answered",
        extra={
            "status": response["Status"],
            "reason": response["Reason"],
            "data": response["Data"],
        },
    )
    return response
