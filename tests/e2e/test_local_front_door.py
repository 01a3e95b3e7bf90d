"""The local cloud serves the front door on localhost (`LocalCloud(front_door_port=0)`, `soorma
dev --http-port N`) with the function's own code: the curl examples of docs/front-door.md
("Trying it locally") are run here with urllib against the calculator Tool and their answers
checked: publish, read the workflow back, call and get the reply."""

from __future__ import annotations

import json
import re
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CALCULATOR = ROOT / "examples" / "calculator-tool" / "calculator"
DOC = ROOT / "docs" / "front-door.md"
#: The address the doc's examples use (`soorma dev ... --http-port 8080`).
DOC_URL = "http://127.0.0.1:8080"


def doc_curls() -> list[list[str]]:
    """The curl commands of the doc's "Trying it locally" section, split as a shell would."""
    section = DOC.read_text().split("## Trying it locally", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    commands = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in commands if line.startswith("curl ")]


def run_curl(argv: list[str], base_url: str) -> tuple[int, dict[str, Any]]:
    """Do what `curl -s [-X M] [-H h]... [-d body] URL` does, with urllib."""
    method, headers, data, url = "GET", {}, None, None
    words = iter(argv[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, value = next(words).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words).encode()
            method = "POST" if method == "GET" else method
        elif word == "-s":
            continue
        else:
            url = word.replace(DOC_URL, base_url)
    assert url is not None, argv
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_the_docs_curl_examples_run_against_the_local_cloud(
    soorma_local_cloud: Callable[..., Any],
) -> None:
    cloud = soorma_local_cloud(CALCULATOR, front_door_port=0)
    url = cloud.front_door.url
    assert url.startswith("http://127.0.0.1:")
    publish, workflow, call = doc_curls()

    status, body = run_curl(publish, url)
    assert status == 202, body
    assert body["correlation_id"] == "calc-1"

    deadline = time.monotonic() + 60  # the event log writes after delivery: poll
    while True:
        status, body = run_curl(workflow, url)
        types = [e["type"] for e in body.get("events", [])]
        if (status == 200 and "math.answered" in types) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body
    assert types == ["math.add", "math.answered"]
    assert body["events"][1]["source"] == "soorma.calculator"

    status, body = run_curl(call, url)
    assert status == 200, body
    assert body["reply"]["type"] == "math.answered"
    assert body["reply"]["data"] == {"success": True, "result": 5}
    assert body["reply"]["tenantid"] == "local"  # the local caller (SOORMA_DEV_TENANT)

    status, body = run_curl(["curl", "-s", f"{DOC_URL}/workflows/nobody"], url)
    assert status == 404 and body["field"] == "correlation_id"


def test_a_local_request_becomes_the_payload_2_event_api_gateway_sends() -> None:
    from io import BytesIO
    from wsgiref.util import setup_testing_defaults

    from soorma_dev.localcloud.front_door_server import FrontDoorApp, caller_claims

    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 202, "headers": {"X-Correlation-ID": "c"}, "body": '{"ok":1}'}

    claims = caller_claims("t-1", "u-1", {"SOORMA_FRONT_DOOR_TENANT_CLAIM": "tenant"})
    assert claims == {"tenant": "t-1", "sub": "u-1"}
    app = FrontDoorApp(handler, claims, context=None)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    for method, path, body in (("GET", "/workflows/a%3Ab", b""), ("POST", "/events", b"\xff")):
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_X_CORRELATION_ID": "c",
            "wsgi.input": BytesIO(body),
        }
        setup_testing_defaults(environ)
        answer = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
        assert answer == b'{"ok":1}'

    workflow, event = seen
    assert workflow["routeKey"] == "GET /workflows/{correlation_id}"
    assert workflow["pathParameters"] == {"correlation_id": "a:b"}
    assert workflow["requestContext"]["authorizer"]["jwt"]["claims"] == claims
    assert workflow["headers"]["x-correlation-id"] == "c"
    assert "body" not in workflow
    assert (event["routeKey"], event["isBase64Encoded"], event["body"]) == (
        "POST /events",
        True,
        "/w==",
    )
    assert started[0] == ("202 Accepted", [("X-Correlation-ID", "c")])
