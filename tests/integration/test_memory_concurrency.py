"""Atomicity across processes, against moto's server: two processes increment one counter
1,000 times each (each increment one UpdateItem with ADD, never a GetItem), and two processes
deliver the results of parallel sub-requests at the same instant (fan-in completes once)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from soorma import Worker, clients
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import PlatformContext
from soorma.memory import MemoryClient, WorkflowState
from soorma.workflows import TaskContext
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.provision import create_table

ROOT = Path(__file__).resolve().parents[2]
TABLE = "soorma-test-memory"
INCREMENTS = 400  # per process: both start on one `go` file, so their calls overlap
GROUPS = 40

# Both workers wait for a `go` file, so that their calls overlap.
WAIT_FOR_GO = """
import asyncio, json, os, sys, time
from pathlib import Path
work = Path(sys.argv[1]); name = sys.argv[2]
(work / f"ready-{name}").touch()
deadline = time.monotonic() + 60
while not (work / "go").exists():
    if time.monotonic() > deadline:
        raise SystemExit("no go signal")
    time.sleep(0.005)
"""

COUNTER_WORKER = (
    WAIT_FOR_GO
    + """
from soorma import clients
from soorma.memory import MemoryClient, WorkflowState

calls = []
def hook(params, model, **_):
    calls.append({"op": model.name, "update": params.get("UpdateExpression", ""),
                  "condition": params.get("ConditionExpression", "")})
clients.client("dynamodb").meta.events.register("provide-client-params.dynamodb", hook)

async def main():
    state = WorkflowState(MemoryClient("acme", "ada"), "p-counter")
    bad = []
    for _ in range(int(sys.argv[3])):
        before = len(calls)
        await state.increment("hits")
        made = calls[before:]
        if len(made) != 1 or made[0]["op"] != "UpdateItem" or "ADD" not in made[0]["update"]:
            bad.append(made)
    print(json.dumps({"calls": len(calls), "ops": sorted({c["op"] for c in calls}), "bad": bad}))
asyncio.run(main())
"""
)

FAN_IN_WORKER = (
    WAIT_FOR_GO
    + """
from soorma import Worker
from soorma.bus import BusClient
from soorma.context import PlatformContext
from soorma.workflows import TaskContext
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="gatherer")
replies = json.loads(sys.argv[3])  # [[group, request_id, reply_id], ...]

async def deliver(request_id, reply_id):
    reply = EventEnvelope(id=reply_id, source="soorma.helper", type="part.done",
                          topic=EventTopic.ACTION_RESULTS, data={"from": name},
                          causation_id=request_id, reply_to="gatherer",
                          tenant_id="acme", user_id="ada")
    bus = BusClient("gatherer", "soorma.gatherer", handled=reply)
    task = await TaskContext.restore(PlatformContext(worker, reply, bus))
    return (await task.record_result()).complete

async def main():
    outcome = []
    for group, request_id, reply_id in replies:
        first = await deliver(request_id, reply_id)
        again = await deliver(request_id, reply_id)  # a redelivery of the same reply
        outcome.append([group, reply_id, first, again])
    print(json.dumps(outcome))
asyncio.run(main())
"""
)


def serialize_item_writes(monkeypatch) -> None:
    """Make moto apply writes one at a time, as DynamoDB does for the writes to one item.

    moto's server handles requests in threads and its DynamoDB backend takes no lock: two
    concurrent ADDs to one item can lose one (measured: 1,999 of 2,000). DynamoDB serializes the
    writes to an item. A client doing read-modify-write still loses updates under this lock (its
    read and its write are separate requests); only single-request atomic updates survive it.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()  # transact_write_items calls put_item / update_item inside
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.fixture
def moto_server(monkeypatch, tmp_path) -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1, with the memory table; the SDK points at it."""
    from moto.server import ThreadedMotoServer

    serialize_item_writes(monkeypatch)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("SOORMA_MEMORY_TABLE", TABLE)
    settings.cache_clear()
    clients.reset()
    create_table(boto3.client("dynamodb", endpoint_url=endpoint), TABLE, "memory")
    try:
        yield endpoint
    finally:
        server.stop()
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        settings.cache_clear()
        clients.reset()


def run_workers(tmp_path: Path, code: str, arguments: list[str]) -> list[Any]:
    """Start one process per argument, release them together, return their JSON outputs."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/soorma_common/python"), str(ROOT)]),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), str(n), argument],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, argument in enumerate(arguments)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{n}").exists() for n in range(len(procs))):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def test_two_processes_increment_one_counter_atomically(moto_server: str, tmp_path: Path) -> None:
    outputs = run_workers(tmp_path, COUNTER_WORKER, [str(INCREMENTS), str(INCREMENTS)])

    for output in outputs:
        assert output["bad"] == []  # every increment was exactly one UpdateItem with ADD
        assert output["ops"] == ["UpdateItem"]  # and nothing else: no GetItem, no read
        assert output["calls"] == INCREMENTS
    state = WorkflowState(MemoryClient("acme", "ada"), "p-counter")
    assert asyncio.run(state.get("hits")) == 2 * INCREMENTS
    entry = asyncio.run(state.get_entry("hits"))
    assert entry is not None and entry.version == 2 * INCREMENTS


def open_groups(count: int) -> list[list[str]]:
    """`count` tasks, each delegating two parts in parallel; returns their request ids."""
    worker = Worker(name="gatherer")
    groups = []
    for n in range(count):
        task_event = EventEnvelope(
            source="soorma.client",
            type="job.run",
            topic=EventTopic.ACTION_REQUESTS,
            data={"n": n},
            tenant_id="acme",
            user_id="ada",
            response_event="job.done",
            reply_to="client",
        )
        bus = BusClient("gatherer", "soorma.gatherer", handled=task_event)
        task = TaskContext.for_context(PlatformContext(worker, task_event, bus))
        groups.append(
            asyncio.run(
                task.delegate_parallel(
                    [("part.do", {"part": 1}, "part.done"), ("part.do", {"part": 2}, "part.done")]
                )
            )
        )
    return groups


def test_parallel_fan_in_completes_exactly_once_under_concurrent_results(
    moto_server: str, tmp_path: Path
) -> None:
    groups = open_groups(GROUPS)
    first = [[g, ids[0], f"reply-{g}-a"] for g, ids in enumerate(groups)]
    second = [[g, ids[1], f"reply-{g}-b"] for g, ids in enumerate(groups)]

    outputs = run_workers(tmp_path, FAN_IN_WORKER, [json.dumps(first), json.dumps(second)])

    completions: dict[int, set[str]] = {g: set() for g in range(GROUPS)}
    for output in outputs:
        for group, reply_id, complete, redelivered in output:
            if complete or redelivered:
                completions[group].add(reply_id)
            # a retried handler of the completing reply sees `complete` again; completion is
            # claimed once all replies are in, so the one reply that claims it may be a
            # redelivery (its first delivery came before the other reply was recorded)
            assert redelivered or not complete
    assert [g for g, found in completions.items() if len(found) != 1] == [], completions
