"""One agent's worker process: its own environment, Powertools objects and boto3 clients.

`python -m soorma_dev.localcloud.worker SPEC.json` imports the agent's handler module (as Lambda
would), then runs one `QueuePump` thread per queue of the agent. Invocations are serialized by a
lock (one Lambda execution environment). The process ends on SIGTERM or when its stdin closes
(its parent is gone).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soorma.manifests import load_handler
from soorma_dev.localcloud.activity import ActivityLog
from soorma_dev.localcloud.pump import QueuePump, RecordOutcomes

if TYPE_CHECKING:  # pragma: no cover
    from soorma_dev.localcloud.fast.store import FastStore


@dataclass(frozen=True)
class QueueSpec:
    """One queue the worker pumps."""

    topic: str
    url: str
    arn: str


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, written as JSON by the parent."""

    agent: str
    path: str
    function_name: str
    queues: list[QueueSpec]
    activity_path: str
    timeout_seconds: float
    wait_seconds: int = 1
    record_handled: bool = True
    #: The fast mode's SQLite database (queues, claims, event log); None: the faithful mode
    fast_database: str | None = None

    def dump(self, file: Path) -> None:
        """Write the spec as JSON."""
        file.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, file: Path) -> WorkerSpec:
        """Read a spec written by `dump`."""
        record = json.loads(Path(file).read_text(encoding="utf-8"))
        record["queues"] = [QueueSpec(**q) for q in record["queues"]]
        return cls(**record)


def observe_outcomes(agent: Any, outcomes: RecordOutcomes, store: FastStore | None = None) -> None:
    """Give the agent a runtime that reports each record's outcome (and why it failed or was
    dead-lettered) to `outcomes`, keeping the transport and settings of the runtime it has.

    In the fast mode (`store`), the default transport becomes a `FastTransport`, and any other
    transport gets the store's claims (`WithStoreClaims`; its `events` and `sqs` clients are
    the store's through the process's boto3 session and `soorma.clients`). Agents whose runtime
    is not a `LambdaRuntime` (a `lambda_handler` of their own) are pumped without reasons.
    """
    from soorma.runtime import AwsTransport, LambdaRuntime

    runtime = getattr(agent, "runtime", None)
    if not isinstance(runtime, LambdaRuntime):
        return
    transport = runtime.transport
    if store is not None and type(transport) is AwsTransport:
        from soorma_dev.localcloud.fast.transport import FastTransport

        transport = FastTransport(store, runtime.settings)
    elif store is not None and transport.claims is not None:
        from soorma_dev.localcloud.fast.transport import WithStoreClaims

        ttl = runtime.settings.idempotency_ttl_seconds
        transport = WithStoreClaims(transport, store.claims(expires_after_seconds=ttl))
    observed = LambdaRuntime(
        agent, transport=transport, on_outcome=outcomes.observe, conf=runtime.settings
    )
    agent.use_runtime(observed)


def run(spec: WorkerSpec, stop: threading.Event) -> None:
    """Pump every queue of the agent until `stop` is set."""
    import boto3

    store = None
    if spec.fast_database is not None:
        from soorma_dev.localcloud.fast.store import FastStore
        from soorma_dev.localcloud.fast.transport import install_default_session

        store = FastStore(spec.fast_database)
        install_default_session(store)  # before the agent's code makes clients
    agent, handler = load_handler(spec.path)
    # As on Lambda, the function's folder stays importable (a module it loads on first use).
    sys.path.insert(0, str(Path(spec.path).resolve()))
    outcomes = RecordOutcomes({})
    observe_outcomes(agent, outcomes, store)
    activity = ActivityLog(Path(spec.activity_path))
    lock = threading.Lock()
    threads = []
    for queue in spec.queues:
        pump = QueuePump(
            agent=spec.agent,
            function_name=spec.function_name,
            queue_url=queue.url,
            queue_arn=queue.arn,
            sqs=store.sqs if store is not None else boto3.client("sqs"),
            handler=handler,
            activity=activity,
            outcomes=outcomes,
            invoke_lock=lock,
            timeout_seconds=spec.timeout_seconds,
            wait_seconds=spec.wait_seconds,
            record_handled=spec.record_handled,
        )
        thread = threading.Thread(target=_pump_forever, args=(pump, stop), daemon=True)
        thread.start()
        threads.append(thread)
    print(f"READY {spec.agent}", flush=True)
    stop.wait()
    for thread in threads:
        thread.join(spec.wait_seconds + spec.timeout_seconds)


#: A folder: each pump thread writes a cProfile of itself there when it stops (benchmarks).
PROFILE_ENV = "SOORMA_LOCALCLOUD_PROFILE_DIR"


def _pump_forever(pump: QueuePump, stop: threading.Event) -> None:
    import os

    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        _pump_until(pump, stop)
        return
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        _pump_until(pump, stop)
    finally:
        profile.disable()
        queue = pump.queue_url.rsplit("/", 1)[-1]
        profile.dump_stats(str(Path(folder) / f"{queue}.{os.getpid()}.pstats"))


def _pump_until(pump: QueuePump, stop: threading.Event) -> None:
    import time

    while not stop.is_set():
        try:
            pump.run(stop)
        except Exception as exc:  # the server went away or hiccupped: report, back off, retry
            if stop.is_set():
                return
            print(f"pump {pump.queue_url}: {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    """Entry point: `python -m soorma_dev.localcloud.worker SPEC.json`."""
    args = sys.argv[1:] if argv is None else argv
    spec = WorkerSpec.load(Path(args[0]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_set_when_stdin_closes, args=(stop,), daemon=True).start()
    run(spec, stop)


def _set_when_stdin_closes(event: threading.Event) -> None:
    """Set `event` when stdin reaches its end: the parent closed it, or died."""
    sys.stdin.read()
    event.set()


if __name__ == "__main__":
    main()
