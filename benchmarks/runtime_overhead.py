"""Throughput of the Soorma runtime vs a lean hand-written handler doing the same work.

One process, one run: every handler is fed the same SQS batches (EventBridge events with a
Soorma envelope, as AWS delivers them) against the same stubbed DynamoDB table and PutEvents,
in interleaved rounds (the order rotates each round), with idempotency claims on and off; prints
events/s of each and the ratio ours/lean (CPU time per event of the Soorma runtime divided by
the lean handler's; 1.0 = no overhead) for each idempotency setting. `--padded` adds the older,
padded hand-written baseline (`handwritten_handler.py`, claims on only).

    .venv/bin/python benchmarks/runtime_overhead.py --events 2000 --rounds 9 [--profile soorma]

The Soorma side runs with a `StubTransport` (`stubs.py`): the runtime's one I/O seam over the
same stubbed table and PutEvents the hand-written side uses.
"""

from __future__ import annotations

import argparse
import copy
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
import lean_handler  # noqa: E402
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
    from datetime import UTC, datetime

    # EventBridge's `time` is when the event was put: now (an old one would be handled as a
    # redelivery older than the claim TTL, with a warning per record)
    put_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
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
            "time": put_time,
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


def build_soorma(
    table: StubTable, put: StubPutEvents, *, claims: bool = True, one_write: bool = False
) -> Handler:
    """The benchmark agent on a runtime of its own (claims on or off; `one_write`: the agent
    declared `claims="one-write"`), put in place per batch."""
    agent = soorma_handler.agent
    if one_write:
        agent = copy.copy(agent)  # the same handlers, its own runtime
        agent.claims = "one-write"
    runtime = LambdaRuntime(agent, transport=StubTransport(table, put, claims=claims))

    def handler(event: dict[str, Any], context: Any) -> Any:
        agent.use_runtime(runtime)
        return agent.lambda_handler(event, context)

    return handler


def build_lean(
    table: StubTable,
    put: StubPutEvents,
    *,
    claims: bool = True,
    direct: bool = False,
    model: bool = True,
    parse_first: bool = False,
) -> Handler:
    """The lean handler, claiming with Powertools (default) or with direct writes (`direct`),
    validating the wire fields with its pydantic model (default) or by hand (`model=False`),
    parsing each record in its turn (default) or the whole batch first (`parse_first`)."""
    lean_handler.use_stubs(table, put)

    def handler(event: dict[str, Any], context: Any) -> Any:
        lean_handler.use_idempotency(claims)
        lean_handler.use_direct_claims(direct)
        lean_handler.use_wire_model(model)
        lean_handler.use_parse_first(parse_first)
        return lean_handler.lambda_handler(event, context)

    return handler


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
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--profile",
        choices=[
            "soorma",
            "lean",
            "lean-direct",
            "one-write",
            "handwritten",
            "soorma-off",
            "lean-off",
        ],
        help="cProfile one (claims on; -off: claims off)",
    )
    parser.add_argument(
        "--padded", action="store_true", help="also run the padded hand-written baseline"
    )
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
        "soorma, claims on": (build_soorma(table, put), "bench-agent"),
        "lean, claims on": (build_lean(table, put), "lean"),
        "lean-direct, claims on": (build_lean(table, put, direct=True), "lean"),
        "soorma one-write, claims on": (build_soorma(table, put, one_write=True), "bench-agent"),
        "soorma, claims off": (build_soorma(table, put, claims=False), "bench-agent"),
        "lean, claims off": (build_lean(table, put, claims=False), "lean"),
        "lean no model, claims on": (build_lean(table, put, model=False), "lean"),
        "lean-direct no model, claims on": (
            build_lean(table, put, direct=True, model=False),
            "lean",
        ),
        "lean no model, claims off": (build_lean(table, put, claims=False, model=False), "lean"),
        "lean parse-first, claims on": (build_lean(table, put, parse_first=True), "lean"),
    }
    if args.padded or args.profile == "handwritten":
        handlers["padded hand-written, claims on"] = (
            build_handwritten(table, put),
            "handwritten",
        )
    devnull = open(os.devnull, "w")  # noqa: SIM115
    for name, (handler, service) in handlers.items():
        check_log_lines(handler, service, batches[0], table, put, context)
        silence(service, devnull)
        run(handler, batches[:5], table, put, context)  # warm up: first-call imports, caches
        claimed = len(table.items) if isinstance(table, StubTable) else None
        if claimed is not None and (claimed > 0) != name.endswith("claims on"):
            raise RuntimeError(f"{name}: {claimed} claims written")

    if args.profile:
        import cProfile
        import pstats

        name = {
            "soorma": "soorma, claims on",
            "lean": "lean, claims on",
            "lean-direct": "lean-direct, claims on",
            "one-write": "soorma one-write, claims on",
            "soorma-off": "soorma, claims off",
            "lean-off": "lean, claims off",
        }.get(args.profile, "padded hand-written, claims on")
        profiler = cProfile.Profile()
        profiler.runcall(run, handlers[name][0], batches, table, put, context)
        if os.environ.get("PROFILE_OUT"):  # the raw stats, for pstats filtering
            profiler.dump_stats(os.environ["PROFILE_OUT"])
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(30)
        return

    seconds: dict[str, list[float]] = {name: [] for name in handlers}
    names = list(handlers)
    for round_number in range(args.rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:  # every handler in every position in turn
            seconds[name].append(run(handlers[name][0], batches, table, put, context))

    print(
        f"events per round: {args.events} in batches of 10; rounds: {args.rounds} "
        f"(interleaved); AWS clients: {args.clients}; "
        f"EMF metrics: {'off' if os.environ['POWERTOOLS_METRICS_DISABLED'] == 'true' else 'on'}"
    )
    for name, s in seconds.items():
        print(
            f"{name:34s} best {args.events / min(s):6.0f} events/s "
            f"({min(s) / args.events * 1e6:6.1f} us/event), "
            f"median {args.events / statistics.median(s):6.0f} events/s"
        )
    comparisons = (
        ("ours/lean", "soorma, claims on", "lean, claims on"),
        ("ours/lean-direct", "soorma, claims on", "lean-direct, claims on"),
        ("ours one-write/lean-direct", "soorma one-write, claims on", "lean-direct, claims on"),
        ("ours/lean", "soorma, claims off", "lean, claims off"),
        ("ours/lean no model", "soorma, claims on", "lean no model, claims on"),
        ("ours/lean-direct no model", "soorma, claims on", "lean-direct no model, claims on"),
        ("ours/lean no model", "soorma, claims off", "lean no model, claims off"),
        ("ours/lean parse-first", "soorma, claims on", "lean parse-first, claims on"),
    )
    for label, our_name, lean_name in comparisons:
        ours, lean = seconds[our_name], seconds[lean_name]
        paired = statistics.median(o / b for o, b in zip(ours, lean, strict=True))
        print(
            f"ratio {label}, claims {our_name.rsplit(' ', 1)[-1]}: best rounds "
            f"{min(ours) / min(lean):.2f}, median rounds "
            f"{statistics.median(ours) / statistics.median(lean):.2f}, "
            f"median of per-round ratios {paired:.2f}"
        )
    if "padded hand-written, claims on" in seconds:
        padded = seconds["padded hand-written, claims on"]
        ours = seconds["soorma, claims on"]
        print(f"ratio ours/padded, claims on: best rounds {min(ours) / min(padded):.2f}")


if __name__ == "__main__":
    main()
