"""The front door on localhost: the same HTTP API as API Gateway serves, run by the same function
code (`functions/front_door/handler.py`) against the local cloud.

A child process (`python -m soorma_dev.localcloud.front_door_server`) with the environment the
function gets on Lambda (bus, tables, the moto endpoint) serves HTTP on 127.0.0.1: each request
becomes an API Gateway HTTP API payload 2.0 event whose `requestContext.authorizer.jwt.claims`
name a fixed caller, as a JWT authorizer would after checking a token; the handler's answer is
written back. The caller is `--tenant` / `--user` (defaults: `SOORMA_DEV_TENANT`, else `local`;
`SOORMA_DEV_USER`, else `developer`). There is no authentication: it listens on 127.0.0.1 only.

`FrontDoorServer` starts and stops that process for `LocalCloud(front_door_port=...)` and
`soorma dev --http-port N`.
"""

from __future__ import annotations

import argparse
import base64
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import soorma_dev
from soorma_dev.localcloud.processes import child_environment, stop_process

if TYPE_CHECKING:
    from soorma_dev.localcloud.cloud import LocalCloud

#: The function's code: the repository's `functions/front_door` (or a copy shipped beside
#: the event log's in `soorma_dev/platform_functions`).
FRONT_DOOR_CODE = next(
    (
        path
        for path in (
            Path(soorma_dev.__file__).parent / "platform_functions" / "front_door",
            Path(soorma_dev.__file__).resolve().parents[1] / "functions" / "front_door",
        )
        if (path / "handler.py").exists()
    ),
    Path("functions") / "front_door",
)
TENANT_VARIABLE = "SOORMA_DEV_TENANT"
USER_VARIABLE = "SOORMA_DEV_USER"
DEFAULT_TENANT = "local"
DEFAULT_USER = "developer"
#: The first line the child prints once it listens.
READY = "front door listening at "
WORKFLOW_PREFIX = "/workflows/"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def api_gateway_event(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    claims: Mapping[str, str],
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway would send for this request (JWT authorizer)."""
    route = f"{method} {path}"
    path_parameters = None
    if method == "GET" and path.startswith(WORKFLOW_PREFIX):
        route = "GET /workflows/{correlation_id}"
        path_parameters = {"correlation_id": unquote(path[len(WORKFLOW_PREFIX) :])}
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": dict(claims), "scopes": None}},
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        try:
            event["body"] = body.decode()
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class FrontDoorApp:
    """A WSGI application that runs the front door's Lambda handler for every request."""

    def __init__(self, handler: Handler, claims: Mapping[str, str], context: Any) -> None:
        self.handler = handler
        self.claims = dict(claims)
        self.context = context

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        event = api_gateway_event(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO") or "/",
            environ.get("QUERY_STRING", ""),
            headers,
            body,
            self.claims,
        )
        response = self.handler(event, self.context)
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        answer_headers = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            answer_headers += [(name, str(v)) for v in values]
        status = int(response.get("statusCode", 200))
        start_response(f"{status} {_reason(status)}", answer_headers)
        return [raw]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"front door: {format % args}\n")


def caller_claims(tenant: str, user: str, env: Mapping[str, str]) -> dict[str, str]:
    """The claims a JWT authorizer would pass for this caller (claim names as configured)."""
    from soorma_common.front_door import (
        DEFAULT_TENANT_CLAIM,
        DEFAULT_USER_CLAIM,
        TENANT_CLAIM,
        USER_CLAIM,
    )

    return {
        env.get(TENANT_CLAIM) or DEFAULT_TENANT_CLAIM: tenant,
        env.get(USER_CLAIM) or DEFAULT_USER_CLAIM: user,
    }


def serve(port: int, tenant: str, user: str, code: Path) -> None:
    """Import the handler from `code`, listen on 127.0.0.1:`port`, print `READY` + URL."""
    from soorma.manifests.discovery import import_handler_module
    from soorma_dev.harness import LambdaContextStub

    module = import_handler_module(code)
    context = LambdaContextStub(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "soorma-local-front-door"),
        timeout_ms=int(float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "29")) * 1000),
    )
    app = FrontDoorApp(module.handler, caller_claims(tenant, user, os.environ), context)
    server = make_server(
        "127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    print(f"{READY}http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


class FrontDoorServer:
    """The child process serving the front door for a `LocalCloud` (`start`, `url`, `stop`)."""

    def __init__(
        self,
        port: int = 0,
        *,
        tenant: str | None = None,
        user: str | None = None,
        code: Path = FRONT_DOOR_CODE,
    ) -> None:
        self.port = port
        self.tenant = tenant or os.environ.get(TENANT_VARIABLE) or DEFAULT_TENANT
        self.user = user or os.environ.get(USER_VARIABLE) or DEFAULT_USER
        self.code = Path(code)
        self.url: str | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self, cloud: LocalCloud, deadline: float) -> str:
        """Start serving with `cloud`'s environment; return the URL once it listens."""
        from soorma_common.front_door import FRONT_DOOR
        from soorma_common.naming import platform_function_name

        env = {
            **cloud.platform.environment(FRONT_DOOR),
            "AWS_ENDPOINT_URL": cloud.endpoint_url,
            **{f"AWS_ENDPOINT_URL_{s.upper()}": u for s, u in cloud.service_endpoints.items()},
            "AWS_LAMBDA_FUNCTION_NAME": platform_function_name(cloud.stage, FRONT_DOOR),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": "29",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **cloud.env,
        }
        log_path = cloud.state_dir / "logs" / "front-door.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "a")  # noqa: SIM115 (the child's stderr)
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", __name__, "--port", str(self.port)),
                *("--tenant", self.tenant, "--user", self.user, "--code", str(self.code)),
            ],
            env=child_environment(env),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self.process.stdout is not None
        ready, _, _ = select.select(
            [self.process.stdout], [], [], max(0.1, deadline - time.monotonic())
        )
        line = self.process.stdout.readline() if ready else ""  # or EOF: the child ended
        if not line.startswith(READY):
            self.stop()
            in_use = f"; is port {self.port} in use?" if self.port else ""
            raise RuntimeError(f"the front door did not start (see {log_path}){in_use}")
        self.url = line[len(READY) :].strip()
        return self.url

    def stop(self) -> None:
        """Stop the child process (idempotent)."""
        if self.process is not None:
            stop_process(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The front door's HTTP API on localhost")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--tenant", default=os.environ.get(TENANT_VARIABLE, DEFAULT_TENANT))
    parser.add_argument("--user", default=os.environ.get(USER_VARIABLE, DEFAULT_USER))
    parser.add_argument("--code", type=Path, default=FRONT_DOOR_CODE)
    args = parser.parse_args(argv)
    serve(args.port, args.tenant, args.user, args.code)


if __name__ == "__main__":
    main()
