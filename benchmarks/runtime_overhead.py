"""Throughput of the Soorma runtime vs a hand-written Powertools handler doing the same work.

One process, one run, both handlers fed the same SQS batches (EventBridge events with a Soorma
envelope, as AWS delivers them) against the same stubbed DynamoDB table and PutEvents, in
alternating rounds; prints events/s for both and the overhead ratio (hand-written / Soorma;
1.0 = no overhead, the target is <= 1.1).

    .venv/bin/python benchmarks/runtime_overhead.py --events 2000 --rounds 9 [--profile soorma]

The Soorma side runs with a `StubTransport` (`stubs.py`): the runtime's one I/O seam over the
same stubbed table and PutEvents the hand-written side uses.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "layers" / "soorma_common" / "python"),
    str(ROOT),
    str(ROOT / "benchmarks"),
]
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "SOORMA_EVENT_BUS": "soorma-bench",
    }
)
for name in ("SOORMA_REGISTRY_TABLE", "SOORMA_IDEMPOTENCY_TABLE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)

import handwritten_handler  # noqa: E402
import soorma_handler  # noqa: E402
from stubs import StubPutEvents, StubTable, StubTransport  # noqa: E402

from soorma.runtime import LambdaRuntime  # noqa: E402
from soorma_common import EventEnvelope, EventTopic  # noqa: E402
from soorma_dev.harness import LambdaContextStub  # noqa: E402
from soorma_dev.sqs_events import lambda_event  # noqa: E402

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:soorma-bench-agent-business-facts"
Handler = Callable[[dict[str, Any], Any], Any]


def sqs_batches(events: int, batch_size: int = 10) -> list[dict[str, Any]]:
    """`events` order.placed events as Lambda SQS events of `batch_size` records."""
    import json

    messages = []
    for n in range(events):
        envelope = EventEnvelope(
            source="soorma.shop",
            type="order.placed",
            topic=EventTopic.BUSINESS_FACTS,
            data={"order": f"o-{n}", "total": n},
            tenant_id="acme",
            user_id="u-1",
        )
        body = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": envelope.type,
            "source": envelope.source,
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": envelope.to_wire(),
        }
        messages.append(
            {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": "r",
                "Body": json.dumps(body),
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
        )
    return [
        lambda_event(messages[i : i + batch_size], QUEUE_ARN, "us-east-1")
        for i in range(0, len(messages), batch_size)
    ]


def silence(service: str, stream: Any) -> None:
    """Send a Powertools logger's JSON lines to `stream` (the formatting is still done)."""
    for handler in logging.getLogger(service).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def build_soorma(table: StubTable, put: StubPutEvents) -> Handler:
    agent = soorma_handler.agent
    agent.use_runtime(LambdaRuntime(agent, transport=StubTransport(table, put)))
    return soorma_handler.handler


def build_handwritten(table: StubTable, put: StubPutEvents) -> Handler:
    handwritten_handler.use_stubs(table, put)
    return handwritten_handler.lambda_handler


class CountingClient:
    """A real boto3 client (answered by hooks) that also counts like the stubs do."""

    def __init__(self, client: Any, stub: Any) -> None:
        self.client, self.stub = client, stub
        self.meta = client.meta

    def reset(self) -> None:
        self.stub.reset()

    @property
    def entries(self) -> int:
        return int(self.stub.entries)

    def __call__(self, **kwargs: Any) -> Any:
        return self.put_events(**kwargs)

    def put_events(self, **kwargs: Any) -> Any:
        self.stub(**kwargs)  # count
        return self.client.put_events(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def botocore_stubs(table: StubTable, put: StubPutEvents) -> tuple[Any, Any]:
    """Real boto3 `dynamodb` and `events` clients answered in-process (no network)."""
    import boto3
    from stubs import answer_without_network

    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
    answer_without_network(dynamodb)
    answer_without_network(events)
    return CountingClient(dynamodb, table), CountingClient(events, put)


def run(
    handler: Handler,
    batches: list[dict[str, Any]],
    table: StubTable,
    put: StubPutEvents,
    context: Any,
) -> float:
    """CPU seconds (this process) to handle every batch once, from an empty table.

    CPU time rather than wall time: the machine is shared, and both handlers are single-threaded
    and make no real I/O, so CPU time is their cost without other processes' noise."""
    table.reset()
    put.reset()
    start = time.process_time()
    for batch in batches:
        response = handler(batch, context)
        if response["batchItemFailures"]:
            raise RuntimeError(f"records failed: {response}")
    elapsed = time.process_time() - start
    events = sum(len(b["Records"]) for b in batches)
    if put.entries != events:
        raise RuntimeError(f"published {put.entries} events for {events} handled")
    return elapsed


def check_log_lines(
    handler: Handler,
    service: str,
    batch: dict[str, Any],
    table: StubTable,
    put: StubPutEvents,
    context: Any,
) -> None:
    """Both handlers must log one line per record carrying the envelope's correlation id."""
    import json

    captured = io.StringIO()
    silence(service, captured)
    table.reset()
    handler(batch, context)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    handled = [line for line in lines if line.get("message") == "order handled"]
    wanted = [json.loads(r["body"])["detail"]["correlationid"] for r in batch["Records"]]
    if [line.get("correlation_id") for line in handled] != wanted:
        raise RuntimeError(f"{service}: log lines lack the correlation ids: {lines[:2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", choices=["soorma", "handwritten"], help="cProfile one")
    parser.add_argument(
        "--clients",
        choices=["stub", "botocore"],
        default="stub",
        help="stub: plain in-memory objects (default); botocore: real boto3 clients answered "
        "by botocore hooks (parameter validation and serialization paid, no network)",
    )
    args = parser.parse_args()

    batches = sqs_batches(args.events)
    context = LambdaContextStub("soorma-bench")
    table, put = StubTable(), StubPutEvents()
    if args.clients == "botocore":
        table, put = botocore_stubs(table, put)
    handlers = {
        "soorma": (build_soorma(table, put), "bench-agent"),
        "handwritten": (build_handwritten(table, put), "handwritten"),
    }
    devnull = open(os.devnull, "w")  # noqa: SIM115
    for handler, service in handlers.values():
        check_log_lines(handler, service, batches[0], table, put, context)
        silence(service, devnull)
        run(handler, batches[:5], table, put, context)  # warm up: first-call imports, caches

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run, handlers[args.profile][0], batches, table, put, context)
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(30)
        return

    seconds: dict[str, list[float]] = {name: [] for name in handlers}
    for round_number in range(args.rounds):
        order = list(handlers) if round_number % 2 == 0 else list(reversed(handlers))
        for name in order:
            seconds[name].append(run(handlers[name][0], batches, table, put, context))

    print(
        f"events per round: {args.events} in batches of 10; rounds: {args.rounds}; "
        f"AWS clients: {args.clients}"
    )
    print(
        f"metrics (EMF): {'off' if os.environ['POWERTOOLS_METRICS_DISABLED'] == 'true' else 'on'}"
    )
    ratios = {}
    for label, pick in (("best round", min), ("median round", statistics.median)):
        rate = {name: args.events / pick(s) for name, s in seconds.items()}
        ratios[label] = rate["handwritten"] / rate["soorma"]
        print(f"{label}: " + ", ".join(f"{name} {rate[name]:.0f} events/s" for name in handlers))
    for label, ratio in ratios.items():
        print(
            f"overhead ratio ({label}; handwritten events/s / soorma events/s): {ratio:.3f}"
            "  target <= 1.1"
        )


if __name__ == "__main__":
    main()
