"""End-to-end throughput of the local cloud: publish -> handler done, in the fidelity-test mode.

moto's server on 127.0.0.1, real PutEvents, EventBridge rules into SQS, one worker process per
agent pumping batches of 10 into `lambda_handler`, Powertools idempotency on, the event log on.
Nothing bypasses moto. With `--fast`, the fast mode (`LocalCloud(fast=True)`: bus, queues,
claims and event log in SQLite, claims on) and then the faithful mode, back to back.

    .venv/bin/python benchmarks/local_throughput.py                 # 2,000 events, 1 agent
    .venv/bin/python benchmarks/local_throughput.py --events 5000 --agents 2 --profile
    .venv/bin/python benchmarks/local_throughput.py --fast --events 5000   # fast, then faithful

Prints events/s (first publish -> last handler done, from the activity file, which costs moto
nothing), the time until every queue (event log included) is empty, and with `--profile` the
top entries of a cProfile of the moto server (every request, merged) in a second run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "soorma_common" / "python")]

from soorma_common.envelope import EventEnvelope  # noqa: E402
from soorma_common.topics import EventTopic  # noqa: E402
from soorma_dev.localcloud import LocalCloud  # noqa: E402
from soorma_dev.localcloud.worker import PROFILE_ENV  # noqa: E402

SINK = """
from soorma import Agent
from soorma_common.topics import EventTopic

agent = Agent("{name}")

@agent.on_event("bench.tick", topic=EventTopic.BUSINESS_FACTS)
def tick(event, context):
    pass

handler = agent.lambda_handler
"""


def write_agents(root: Path, count: int) -> list[Path]:
    """`count` sink agents subscribed to `bench.tick` (each gets every event: fan-out)."""
    paths = []
    for i in range(count):
        folder = root / f"sink{i}"
        folder.mkdir()
        (folder / "handler.py").write_text(SINK.format(name=f"bench-sink-{i}"))
        paths.append(folder)
    return paths


def publish(
    cloud: LocalCloud, events: int, publishers: int, profile_dir: Path | None = None
) -> float:
    """Publish `events` in PutEvents of 10 from `publishers` threads; return the seconds taken.
    With `profile_dir`, each thread writes a cProfile of itself there."""
    batches = [
        [
            EventEnvelope(source="soorma.bench", type="bench.tick", topic=EventTopic.BUSINESS_FACTS)
            for _ in range(min(10, events - start))
        ]
        for start in range(0, events, 10)
    ]
    start = time.perf_counter()

    def put(part: list[list[EventEnvelope]], number: int) -> None:
        profile = cProfile.Profile() if profile_dir else None
        if profile:
            profile.enable()
        for batch in part:
            cloud.publish(batch)
        if profile and profile_dir:
            profile.disable()
            profile.dump_stats(str(profile_dir / f"publisher{number}.pstats"))

    threads = [
        threading.Thread(target=put, args=(batches[i::publishers], i)) for i in range(publishers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def run(
    events: int,
    agents: int,
    publishers: int,
    concurrency: int,
    profile: Path | None,
    idempotency: bool = True,
    dynamodb_server: bool = False,
    fast: bool = False,
) -> dict[str, float]:
    """One measured run; returns its numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_agents(root, agents)
        env = {PROFILE_ENV: str(profile.parent)} if profile else {}
        if not idempotency:
            env["SOORMA_IDEMPOTENCY"] = "off"
        with LocalCloud(
            paths,
            state_dir=root / "state",
            server_profile=profile,
            env=env,
            concurrency=concurrency,
            dynamodb_server=dynamodb_server,
            fast=fast,
        ) as cloud:
            expected = events * agents
            before = cpu_seconds(cloud)  # start-up (imports, provisioning) is not counted
            own = time.process_time()  # this process: publisher threads (fast: routing too)
            start = time.perf_counter()
            published = publish(cloud, events, publishers, profile.parent if profile else None)
            deadline = start + 600
            handled = lines = 0
            while handled < expected and time.perf_counter() < deadline:
                time.sleep(0.05)
                new = cloud.activity(since=lines)  # only the new lines: reading costs little
                lines += len(new)
                handled += sum(1 for a in new if a.outcome == "handled")
            done = time.perf_counter() - start
            cloud.wait_until_idle(timeout=600)
            idle = time.perf_counter() - start
            after = cpu_seconds(cloud)
            cpu = {key: after[key] - before.get(key, 0.0) for key in after}
            cpu["publisher"] = time.process_time() - own
            cpu["total"] += cpu["publisher"]
    return {
        "events": events,
        "handled": handled,
        "publish_s": published,
        "handled_s": done,
        "idle_s": idle,
        "events_per_s": handled / done,
        "deliveries_per_s": (handled + events) / idle,  # agents' + the event log's
        "load": os.getloadavg()[0],
        **{f"cpu_ms_per_event_{k}": 1000 * v / events for k, v in cpu.items()},
    }


def cpu_seconds(cloud: LocalCloud) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the moto server, the agents' workers and the
    event log's worker (from /proc, Linux only; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def of(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / ticks

    assert cloud.server.process is not None
    used = {"moto": of(cloud.server.process.pid), "moto_dynamodb": 0.0}
    if cloud.dynamodb_server is not None and cloud.dynamodb_server.process is not None:
        used["moto_dynamodb"] = of(cloud.dynamodb_server.process.pid)
    used.update(agents=0.0, event_log=0.0)
    for worker in cloud.workers:
        if worker.process is not None:
            key = "event_log" if worker.spec.agent == "event-log" else "agents"
            used[key] += of(worker.process.pid)
    used["total"] = sum(used.values())
    return used


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=1, help="sink agents (fan-out)")
    parser.add_argument("--publishers", type=int, default=2, help="publishing threads")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes per agent")
    parser.add_argument(
        "--no-idempotency",
        action="store_true",
        help="switch the claims off (not the fidelity mode: shows what they cost)",
    )
    parser.add_argument(
        "--split-dynamodb",
        action="store_true",
        help="DynamoDB in a moto process of its own (LocalCloud(dynamodb_server=True))",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the fast mode (LocalCloud(fast=True)), then the faithful mode beside it",
    )
    parser.add_argument(
        "--skip-faithful", action="store_true", help="with --fast: the fast mode only"
    )
    parser.add_argument("--profile", action="store_true", help="also profile moto in a 2nd run")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    for fast in modes_of(args):
        numbers = run(
            args.events,
            args.agents,
            args.publishers,
            args.concurrency,
            None,
            not args.no_idempotency,
            args.split_dynamodb,
            fast,
        )
        report("fast" if fast else "faithful", numbers, args.events, args.agents)
    if args.profile:
        profile_runs(args)


def modes_of(args: argparse.Namespace) -> list[bool]:
    """The modes to measure, in order (True: fast)."""
    if not args.fast:
        return [False]
    return [True] if args.skip_faithful else [True, False]


def report(mode: str, numbers: dict[str, float], events: int, agents: int) -> None:
    """Print one run's figures."""
    print(
        f"[{mode}] {numbers['handled']:.0f} handlings of {events} events by {agents} agent(s): "
        f"{numbers['events_per_s']:.0f} events/s publish -> handler done "
        f"(published in {numbers['publish_s']:.2f} s, handled by {numbers['handled_s']:.2f} s, "
        f"all queues incl. event log empty at {numbers['idle_s']:.2f} s = "
        f"{numbers['deliveries_per_s']:.0f} deliveries/s; load average {numbers['load']:.2f})"
    )
    if "cpu_ms_per_event_total" in numbers:
        total = numbers["cpu_ms_per_event_total"]
        print(
            f"[{mode}] CPU per event: {total:.2f} ms (moto server "
            f"{numbers['cpu_ms_per_event_moto']:.2f}, moto DynamoDB server "
            f"{numbers['cpu_ms_per_event_moto_dynamodb']:.2f}, agent workers "
            f"{numbers['cpu_ms_per_event_agents']:.2f}, event log worker "
            f"{numbers['cpu_ms_per_event_event_log']:.2f}, publisher process "
            f"{numbers['cpu_ms_per_event_publisher']:.2f}). Ceiling on an idle machine: "
            f"{1000 / total:.0f} events/s per core, {os.cpu_count() or 1} core(s) here"
        )


def profile_runs(args: argparse.Namespace) -> None:
    """A second, profiled run per mode: moto's server(s), the workers' pump threads and (fast)
    the publisher threads, which route in the fast mode."""
    for fast in modes_of(args):
        mode = "fast" if fast else "faithful"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "moto.pstats"
            profiled = run(
                args.events,
                args.agents,
                args.publishers,
                args.concurrency,
                path,
                dynamodb_server=args.split_dynamodb,
                fast=fast,
            )
            print(f"\n[{mode}] profiled run (slower): {profiled['events_per_s']:.0f} events/s")
            show(f"[{mode}] moto server (every request)", [path], args.top)
            show(
                f"[{mode}] moto DynamoDB server (every request)",
                [path.with_suffix(".dynamodb.pstats")],
                args.top,
            )
            for prefix, title in (
                ("soorma-local-bench", "agent workers"),
                ("soorma-local-event-log", "event log worker"),
                ("publisher", "publisher threads"),
            ):
                files = sorted(Path(tmp).glob(f"{prefix}*.pstats"))
                show(f"[{mode}] {title}", files, args.top)


def show(title: str, files: list[Path], top: int) -> None:
    """Print the top entries of merged cProfile files, by own time and by cumulative time."""
    files = [f for f in files if f.exists()]
    if not files:
        return
    stats = pstats.Stats(*map(str, files))
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print(f"\n== {title}: top {top} by {order}")
        stats.sort_stats(order).print_stats(top)


if __name__ == "__main__":
    main()
