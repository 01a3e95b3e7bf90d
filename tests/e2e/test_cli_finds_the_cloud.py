"""Every command finds the running local cloud by itself (no port, stage or credentials given),
and the bad inputs that need a running cloud end in one line with their exit code:

- `soorma events|graph|asyncapi` read its registry, `soorma memory forget` its memory table;
- `soorma send --response-event --reply-to` drives a request whose reply reaches the requester;
- `soorma trace` takes the 8 characters the live view shows;
- `soorma dlq redrive --agent no-such-agent` is an error, not "redriven 0";
- a PutEvents of 300 KB straight onto the local bus is refused, as AWS refuses it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from soorma_dev.localcloud import LocalCloudClient

REPO = Path(__file__).resolve().parents[2]
SOORMA = [sys.executable, "-m", "soorma_dev"]


def soorma(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One `soorma` command in a terminal without AWS settings (no endpoint, no stage)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SOORMA_"))}
    return subprocess.run(
        [*SOORMA, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def poll(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cwd = tmp_path_factory.mktemp("finds")
    log = (cwd / "dev.log").open("w")
    process = subprocess.Popen(
        [*SOORMA, "dev", str(REPO / "examples" / "hello-world"), "--time-scale", "0.005"],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    poll(
        lambda: (cwd / ".soorma" / "local.json").exists() or process.poll() is not None,
        "soorma dev to start",
        timeout=120,
    )
    assert process.poll() is None, (cwd / "dev.log").read_text()
    try:
        yield {"cwd": cwd, "cloud": LocalCloudClient.connect(cwd / ".soorma")}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["events", "--json"], '"greeting.compose"'),
        (["graph"], "greeting-requester"),
        (["asyncapi"], '"asyncapi": "3.0.0"'),
        (["memory", "forget", "--tenant", "acme"], "deleted 0 item(s) of tenant 'acme'"),
    ],
    ids=["events", "graph", "asyncapi", "memory-forget"],
)
def test_commands_find_the_running_local_cloud(
    running: dict[str, Any], args: list[str], expected: str
) -> None:
    done = soorma(*args, cwd=running["cwd"])
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_send_with_response_event_and_reply_to_gets_the_reply_to_the_requester(
    running: dict[str, Any],
) -> None:
    cwd = running["cwd"]
    sent = soorma(
        "send", "greeting.compose", "--topic", "action-requests", "--data", '{"name": "Ada"}',
        "--response-event", "greeting.composed", "--reply-to", "greeting-requester", "--json",
        cwd=cwd,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    request = json.loads(sent.stdout)
    assert request["responseevent"] == "greeting.composed"
    assert request["replyto"] == "greeting-requester"

    short = request["correlationid"][:8]  # what the live view shows
    trace = poll(
        lambda: (
            (done := soorma("trace", short, cwd=cwd)).returncode == 0
            and "visitor.greeted" in done.stdout
            and done
        ),
        "the reply to reach greeting-requester",
    )
    assert f"trace {request['correlationid']}" in trace.stdout
    assert "✔ greeting-requester handled" in trace.stdout


def test_redrive_of_an_unknown_agent_is_an_error(running: dict[str, Any]) -> None:
    done = soorma("dlq", "redrive", "--agent", "no-such-agent", cwd=running["cwd"])
    assert done.returncode == 2
    assert done.stderr.startswith("error: no agent 'no-such-agent' runs in the local cloud")
    assert "greeter" in done.stderr  # the agents it has
    assert "Traceback" not in done.stderr


def test_a_put_events_request_over_256_kb_is_refused_as_on_aws(running: dict[str, Any]) -> None:
    cloud = running["cloud"]
    detail = json.dumps({"type": "big.thing", "data": "x" * 300 * 1024})
    entry = {
        "EventBusName": cloud.platform.bus_name,
        "Source": "soorma.test",
        "DetailType": "big.thing",
        "Detail": detail,
    }
    with pytest.raises(ClientError) as refused:
        cloud.client("events").put_events(Entries=[entry])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "over the limit" in refused.value.response["Error"]["Message"]

    small = cloud.client("events").put_events(Entries=[{**entry, "Detail": '{"a": 1}'}])
    assert small["FailedEntryCount"] == 0  # the limit is on size, nothing else
