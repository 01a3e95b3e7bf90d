"""`soorma dev` survives what a newcomer will do to it, checked with real processes:

- an event whose `correlationid` is a number or an object (put straight onto the bus) is
  dead-lettered by the runtime and shown on the live view; the local cloud keeps running;
- a worker killed with `kill -9` is noticed, said once, reaped (no zombie) and restarted, and
  the events sent to its queue while it was down are handled;
- SIGTERM stops `soorma dev` as cleanly as Ctrl-C (no stale state file, no worker left).
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

from soorma_dev.localcloud import LocalCloudClient

REPO = Path(__file__).resolve().parents[2]
SOORMA = [sys.executable, "-m", "soorma_dev"]
STATE_DIR = Path(".soorma")
WORKER_MODULE = "soorma_dev.localcloud.worker"


def poll(check: Any, what: str, timeout: float = 90) -> Any:
    """Call `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def process_state(pid: int) -> str | None:
    """The state letter of a process (`Z` for a zombie), None when it is gone (reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def worker_pids(dev_pid: int, agent: str) -> list[int]:
    """The worker processes of `agent` under `soorma dev` (their spec file is named after it)."""
    return [
        pid
        for pid in children(dev_pid)
        if WORKER_MODULE in (line := command_line(pid)) and f"/{agent}.worker.json" in line
    ]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`soorma dev examples/poison-message` running, its output in dev.log."""
    cwd = tmp_path_factory.mktemp("resilience")
    log = (cwd / "dev.log").open("w")
    process = subprocess.Popen(
        [*SOORMA, "dev", str(REPO / "examples" / "poison-message"), "--time-scale", "0.005"],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    poll(
        lambda: (cwd / STATE_DIR / "local.json").exists() or process.poll() is not None,
        "soorma dev to start",
        timeout=120,
    )
    assert process.poll() is None, (cwd / "dev.log").read_text()
    client = LocalCloudClient.connect(cwd / STATE_DIR)
    try:
        yield {"cwd": cwd, "process": process, "log": cwd / "dev.log", "cloud": client}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def put_raw(cloud: LocalCloudClient, details: list[dict[str, Any]]) -> None:
    """PutEvents of hand-written details (as any producer could put them), none refused."""
    entries = [
        {
            "EventBusName": cloud.platform.bus_name,
            "Source": "soorma.test",
            "DetailType": detail["type"],
            "Detail": json.dumps(detail),
        }
        for detail in details
    ]
    for start in range(0, len(entries), 10):
        answer = cloud.client("events").put_events(Entries=entries[start : start + 10])
        assert answer["FailedEntryCount"] == 0, answer


def order(order_id: str, **overrides: Any) -> dict[str, Any]:
    detail = {
        "specversion": "1.0",
        "id": f"id-{order_id}",
        "source": "soorma.test",
        "type": "order.placed",
        "topic": "business-facts",
        "time": "2026-11-27T01:02:03Z",
        "correlationid": f"corr-{order_id}",
        "tenantid": "acme",
        "data": {"order_id": order_id, "total": "3.50"},
    }
    detail.update(overrides)
    return detail


def handled(cloud: LocalCloudClient, agent: str) -> set[str]:
    return {
        str(line.event_id)
        for line in cloud.activity()
        if line.agent == agent and line.outcome == "handled"
    }


def test_malformed_correlation_ids_do_not_stop_the_local_cloud(dev: dict[str, Any]) -> None:
    cloud = dev["cloud"]
    put_raw(
        cloud,
        [order("number", correlationid=12345678901), order("object", correlationid={"x": 1})],
    )
    poll(
        lambda: sum(line.outcome == "dead-lettered" for line in cloud.activity()) >= 2,
        "the malformed events to be dead-lettered",
    )
    put_raw(cloud, [order("after-malformed")])
    poll(lambda: "id-after-malformed" in handled(cloud, "order-validator"), "a later event")
    live = poll(
        lambda: (text := dev["log"].read_text()).count("dead-lettered") >= 2 and text,
        "the live view to show the dead-lettered events",
    )
    assert dev["process"].poll() is None, live
    assert "Traceback" not in live
    assert "12345678" in live  # the number, shown as the correlation id


def test_a_killed_worker_is_reported_once_reaped_and_restarted(dev: dict[str, Any]) -> None:
    cloud, process = dev["cloud"], dev["process"]
    (victim,) = worker_pids(process.pid, "order-validator")
    os.kill(victim, signal.SIGKILL)
    orders = [order(f"while-down-{n}") for n in range(20)]
    put_raw(cloud, orders)  # onto its queue while it is down

    poll(
        lambda: (
            len(worker_pids(process.pid, "order-validator")) == 1
            and worker_pids(process.pid, "order-validator") != [victim]
        ),
        "a new order-validator worker",
    )
    expected = {detail["id"] for detail in orders}
    poll(lambda: expected <= handled(cloud, "order-validator"), "the queue to be drained")
    log = dev["log"].read_text()
    assert log.count("worker order-validator died (signal 9); restarting") == 1, log
    assert process_state(victim) is None  # reaped: no zombie left behind
    assert process.poll() is None


def test_sigterm_stops_the_local_cloud_as_cleanly_as_ctrl_c(dev: dict[str, Any]) -> None:
    process, cwd = dev["process"], dev["cwd"]
    workers = worker_pids(process.pid, "order-validator") + worker_pids(process.pid, "event-log")
    assert workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    log = dev["log"].read_text()
    assert "SIGTERM: stopping the local cloud" in log
    assert "Traceback" not in log
    assert not (cwd / STATE_DIR / "local.json").exists()
    assert all(process_state(pid) is None for pid in workers)
