"""The registry sync as a CloudFormation custom resource (the handler of `functions/registry_sync`).

Request (sent by CloudFormation to the function): `RequestType` (Create, Update, Delete),
`ResponseURL` (a presigned S3 URL), `StackId`, `RequestId`, `LogicalResourceId`, `ResourceType`,
`ResourceProperties` and, on Update, `OldResourceProperties` and `PhysicalResourceId`.
Properties: `TableName` and `Manifests` (a JSON string: CloudFormation would turn every number and
boolean inside an object property into a string, which would corrupt the JSON Schemas).

The function answers by PUTting the response document to `ResponseURL` itself (no Provider
framework: one function fewer, and the response is a plain document that tests capture).
- The PhysicalResourceId is `soorma-registry:<table>` and an Update answers the id it was given,
  so CloudFormation never sees a replacement (which would send a Delete for the registry it just
  wrote). A failed Create answers `...:create-failed`, and the Delete CloudFormation then sends for
  it does nothing.
- A rollback is an Update whose properties are the old ones: it is synced like any update.
- A Delete whose table is already gone (deleted first, or by hand) answers SUCCESS: there is
  nothing left to remove, and a FAILED answer would leave the stack in DELETE_FAILED.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from soorma.registry.sync import SyncReport, sync_registry
from soorma_common.manifest import AgentManifest

PHYSICAL_ID_PREFIX = "soorma-registry:"
FAILED_CREATE_SUFFIX = ":create-failed"
#: CloudFormation rejects a response body over 4096 bytes.
MAX_RESPONSE_BYTES = 4096

Sender = Callable[[str, bytes], None]


def physical_id(table: str) -> str:
    """The stable PhysicalResourceId of the registry sync of `table`."""
    return f"{PHYSICAL_ID_PREFIX}{table}"


def parse_manifests(properties: dict[str, Any] | None) -> list[AgentManifest]:
    """The manifests carried by a request's properties (`Manifests`, a JSON list)."""
    raw = (properties or {}).get("Manifests") or "[]"
    records = json.loads(raw) if isinstance(raw, str) else raw
    return [AgentManifest.model_validate(r) for r in records]


def handle_request(
    request: dict[str, Any], *, dynamodb: Any = None
) -> tuple[dict[str, Any], SyncReport | None]:
    """Run the sync a request asks for; return the response document (not yet sent)."""
    kind = request["RequestType"]
    properties = request.get("ResourceProperties") or {}
    table = str(properties.get("TableName") or "")
    given_id = request.get("PhysicalResourceId")
    resource_id = given_id if kind != "Create" and given_id else physical_id(table)
    report: SyncReport | None = None
    try:
        if not table:
            raise ValueError("the custom resource needs a TableName property")
        if kind == "Create":
            report = sync_registry(table, parse_manifests(properties), dynamodb=dynamodb)
        elif kind == "Update":
            report = sync_registry(
                table,
                parse_manifests(properties),
                parse_manifests(request.get("OldResourceProperties")),
                dynamodb=dynamodb,
            )
        elif kind == "Delete":
            if not str(resource_id).endswith(FAILED_CREATE_SUFFIX):
                report = _delete(table, properties, dynamodb)
        else:
            raise ValueError(f"unknown RequestType {kind!r}")
    except Exception as exc:
        if kind == "Create":
            resource_id = physical_id(table) + FAILED_CREATE_SUFFIX
        return response_document(request, "FAILED", resource_id, reason=str(exc)), None
    data = report.summary() if report else {}
    return response_document(request, "SUCCESS", resource_id, data=data), report


def _delete(table: str, properties: dict[str, Any], dynamodb: Any) -> SyncReport | None:
    """Remove the deployed entries; None when the table no longer exists."""
    try:
        return sync_registry(table, [], parse_manifests(properties), dynamodb=dynamodb)
    except Exception as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def response_document(
    request: dict[str, Any],
    status: str,
    resource_id: str,
    *,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document CloudFormation expects at `ResponseURL` (kept under 4096 bytes)."""
    document = {
        "Status": status,
        "Reason": reason or f"see CloudWatch Logs for request {request.get('RequestId')}",
        "PhysicalResourceId": resource_id,
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }
    overflow = len(json.dumps(document).encode("utf-8")) - MAX_RESPONSE_BYTES
    if overflow > 0:
        document["Reason"] = document["Reason"][: max(0, len(document["Reason"]) - overflow - 20)]
        document["Reason"] += " ... (truncated)"
    return document


def put_response(url: str, body: bytes) -> None:
    """PUT the response to the presigned URL (empty Content-Type, as S3 signed it)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def handle_and_respond(
    request: dict[str, Any], *, dynamodb: Any = None, send: Sender = put_response
) -> dict[str, Any]:
    """Handle a request and send the response to its `ResponseURL`; return the response."""
    document, _ = handle_request(request, dynamodb=dynamodb)
    send(request["ResponseURL"], json.dumps(document).encode("utf-8"))
    return document
