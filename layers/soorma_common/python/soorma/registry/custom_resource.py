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

Every request that names a `ResponseURL` is answered, always, before the function's deadline:
- a request missing a field CloudFormation always sends (`RequestType`, `StackId`, `RequestId`,
  `LogicalResourceId`) is answered FAILED with a reason naming the missing fields;
- a sync still running `RESPONSE_RESERVE_SECONDS` before the deadline is answered FAILED by a
  watchdog (the sync's own answer, if it comes later, is not sent);
- the upload is retried (`UPLOAD_ATTEMPTS`, exponential backoff from `UPLOAD_BACKOFF_SECONDS`,
  never past the deadline) on connection errors, timeouts and 5xx/429 answers; a 4xx answer
  (an expired URL) is not retried. When every attempt fails, `ResponseUploadError` is raised,
  so that Lambda's retries of the asynchronous invocation run the (idempotent) sync again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from soorma.registry.sync import SyncReport, sync_registry
from soorma_common.errors import RegistryTableNotFoundError
from soorma_common.manifest import AgentManifest

PHYSICAL_ID_PREFIX = "soorma-registry:"
FAILED_CREATE_SUFFIX = ":create-failed"
#: CloudFormation rejects a response body over 4096 bytes.
MAX_RESPONSE_BYTES = 4096
#: The fields of every CloudFormation custom-resource request that the response echoes or needs.
REQUIRED_FIELDS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
#: Uploads of one response, at most.
UPLOAD_ATTEMPTS = 5
#: The wait before the second upload attempt; doubled for each further attempt.
UPLOAD_BACKOFF_SECONDS = 0.5
#: How long one upload attempt may take.
UPLOAD_TIMEOUT_SECONDS = 5.0
#: Time kept before the function's deadline to answer FAILED when the sync has not finished.
RESPONSE_RESERVE_SECONDS = 15.0

Sender = Callable[[str, bytes], None]
logger = logging.getLogger(__name__)


class ResponseUploadError(RuntimeError):
    """Every attempt to PUT the response to CloudFormation's `ResponseURL` failed."""


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
    kind = request.get("RequestType")
    properties = request.get("ResourceProperties") or {}
    table = _table_of(request)
    resource_id = _resource_id(request)
    report: SyncReport | None = None
    try:
        missing = [name for name in REQUIRED_FIELDS if not request.get(name)]
        if missing:
            raise ValueError(
                f"the request lacks {', '.join(missing)}: not a CloudFormation request"
            )
        if not isinstance(properties, dict):
            raise ValueError("ResourceProperties must be an object")
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
        reason = str(exc)
        return response_document(
            request, "FAILED", _failed_resource_id(request), reason=reason
        ), None
    data = report.summary() if report else {}
    return response_document(request, "SUCCESS", resource_id, data=data), report


def _table_of(request: dict[str, Any]) -> str:
    properties = request.get("ResourceProperties")
    return str(properties.get("TableName") or "") if isinstance(properties, dict) else ""


def _resource_id(request: dict[str, Any]) -> str:
    """The PhysicalResourceId a successful answer carries: the one given (Update, Delete)."""
    given = request.get("PhysicalResourceId")
    if request.get("RequestType") != "Create" and given:
        return str(given)
    return physical_id(_table_of(request))


def _failed_resource_id(request: dict[str, Any]) -> str:
    """The id a FAILED answer carries: a failed Create gets one its Delete will recognize."""
    if request.get("RequestType") == "Create":
        return physical_id(_table_of(request)) + FAILED_CREATE_SUFFIX
    return _resource_id(request)


def _delete(table: str, properties: dict[str, Any], dynamodb: Any) -> SyncReport | None:
    """Remove the deployed entries; None when the table no longer exists."""
    try:
        return sync_registry(table, [], parse_manifests(properties), dynamodb=dynamodb)
    except RegistryTableNotFoundError:  # every table call translates ResourceNotFoundException
        return None


def response_document(
    request: dict[str, Any],
    status: str,
    resource_id: str,
    *,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document CloudFormation expects at `ResponseURL` (kept under 4096 bytes)."""
    document: dict[str, Any] = {
        "Status": status,
        "Reason": reason or f"see CloudWatch Logs for request {request.get('RequestId')}",
        "PhysicalResourceId": resource_id,
        "StackId": str(request.get("StackId") or ""),
        "RequestId": str(request.get("RequestId") or ""),
        "LogicalResourceId": str(request.get("LogicalResourceId") or ""),
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
    with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_SECONDS) as answer:
        answer.read()


def send_with_retries(
    url: str,
    body: bytes,
    *,
    send: Sender = put_response,
    sleep: Callable[[float], None] = time.sleep,
    seconds_left: Callable[[], float] | None = None,
) -> int:
    """PUT `body` to `url`, retrying as the module says; return the attempts it took.

    Raises `ResponseUploadError` naming the last error when no attempt succeeded.
    """
    backoff = UPLOAD_BACKOFF_SECONDS
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            send(url, body)
            return attempt
        except Exception as exc:
            out_of_time = seconds_left is not None and (
                seconds_left() < backoff + UPLOAD_TIMEOUT_SECONDS
            )
            if attempt == UPLOAD_ATTEMPTS or not _worth_retrying(exc) or out_of_time:
                raise ResponseUploadError(
                    f"the response to CloudFormation could not be uploaded after {attempt} "
                    f"attempt(s): {type(exc).__name__}: {exc}"
                ) from exc
            logger.warning("response upload attempt %d failed (%s); retrying", attempt, exc)
        sleep(backoff)
        backoff *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _worth_retrying(exc: Exception) -> bool:
    """Connection errors, timeouts, 5xx and 429 may pass later; another 4xx never will."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    return True


def handle_and_respond(
    request: dict[str, Any],
    *,
    dynamodb: Any = None,
    send: Sender = put_response,
    sleep: Callable[[float], None] = time.sleep,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Handle a request and send the response to its `ResponseURL`; return the response sent.

    `remaining_ms` is the Lambda context's `get_remaining_time_in_millis`: with it, a watchdog
    answers FAILED `RESPONSE_RESERVE_SECONDS` before the deadline if the sync has not finished.
    A request without a `ResponseURL` cannot be answered: its FAILED document is returned only.
    """
    url = request.get("ResponseURL")
    if not isinstance(url, str) or not url:
        document, _ = handle_request(request, dynamodb=dynamodb)  # FAILED, nothing synced
        logger.error("request without a ResponseURL cannot be answered: %s", document["Reason"])
        return document
    deadline = None if remaining_ms is None else time.monotonic() + remaining_ms() / 1000
    answer = _Answer(url, send, sleep, deadline)
    watchdog: threading.Timer | None = None
    if deadline is not None:
        late = response_document(
            request,
            "FAILED",
            _failed_resource_id(request),
            reason="the registry sync did not finish before the function's deadline",
        )
        watchdog = threading.Timer(
            max(0.0, deadline - time.monotonic() - RESPONSE_RESERVE_SECONDS),
            answer.send_quietly,
            args=(late,),
        )
        watchdog.daemon = True
        watchdog.start()
    try:
        document, _ = handle_request(request, dynamodb=dynamodb)
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return answer.send(document)


class _Answer:
    """The one response of a request: the first `send` uploads it, later ones do nothing."""

    def __init__(
        self,
        url: str,
        send: Sender,
        sleep: Callable[[float], None],
        deadline: float | None,
    ) -> None:
        self.url = url
        self._send = send
        self._sleep = sleep
        self._deadline = deadline
        self._lock = threading.Lock()
        self.sent: dict[str, Any] | None = None

    def send(self, document: dict[str, Any]) -> dict[str, Any]:
        """Upload `document` unless an answer was already sent; return the answer sent."""
        with self._lock:
            if self.sent is not None:
                return self.sent
            self.sent = document
            send_with_retries(
                self.url,
                json.dumps(document).encode("utf-8"),
                send=self._send,
                sleep=self._sleep,
                seconds_left=self._seconds_left if self._deadline is not None else None,
            )
            return document

    def send_quietly(self, document: dict[str, Any]) -> None:
        """`send` from the watchdog thread: failures are logged (nobody else would see them)."""
        try:
            self.send(document)
        except Exception:
            logger.exception("the watchdog's FAILED answer could not be uploaded")

    def _seconds_left(self) -> float:
        assert self._deadline is not None
        return self._deadline - time.monotonic()
