"""`LocalCloud`: moto's server, the platform's resources, and one worker process per agent."""

from __future__ import annotations

import atexit
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import soorma_dev
from soorma_common.delivery import DEFAULT_FUNCTION_TIMEOUT_SECONDS, visibility_timeout_for
from soorma_common.manifest import AgentKind, AgentManifest
from soorma_common.naming import function_name
from soorma_dev.deadline_pump import LocalTarget, SchedulePump
from soorma_dev.localcloud.activity import ActivityLog, now_iso
from soorma_dev.localcloud.fast.store import FAST_DATABASE, FastStore, create_store
from soorma_dev.localcloud.front_door_server import FrontDoorServer
from soorma_dev.localcloud.operations import CloudOperations
from soorma_dev.localcloud.server import MotoServer
from soorma_dev.localcloud.session import EndpointSession
from soorma_dev.localcloud.stall_sweep import (
    DEFAULT_STALL_SWEEP,
    StallSweepSchedule,
    create_sweep_schedule,
    local_sweep,
)
from soorma_dev.localcloud.state import ACTIVITY_FILE, CloudState, remove_state, write_state
from soorma_dev.localcloud.supervisor import WorkerSupervisor, report_to_stderr
from soorma_dev.localcloud.watcher import DeadLetterWatcher
from soorma_dev.localcloud.worker import QueueSpec, WorkerSpec
from soorma_dev.localcloud.workers import WorkerError, WorkerProcess
from soorma_dev.manifests import agents_to_run, read_manifests
from soorma_dev.provision import Platform, provision

#: The platform's own functions, run when `include_platform` is set: shipped in the package
#: (`soorma_dev/platform_functions/event_log`, in the repository a link to functions/event_log),
#: so that an installed wheel runs the same event log as the repository.
PLATFORM_FUNCTIONS = (
    (Path(soorma_dev.__file__).parent / "platform_functions" / "event_log").resolve(),
)


class LocalCloud(CloudOperations):
    """The whole platform on this machine: `with LocalCloud([...]) as cloud: cloud.send(...)`.

    `time_scale` multiplies visibility timeouts (0.1: a failed record returns after 18 s instead
    of 180 s); SQS visibility is whole seconds, so it never goes below 1 s. The remaining time a
    handler is given is capped at two of those (`invocation_seconds`).

    A worker process that dies is reported to `report_worker` (one line, default stderr) and
    restarted, as Lambda starts a new execution environment; `restart_workers=False` makes a
    death an error of `wait_until_idle` instead. With `reload_code`, an agent's workers are
    restarted when a Python file under its folder changes (the cloud and its state stay).

    `fast=True` keeps the bus, the queues, the claims and the event log out of moto (one SQLite
    database, routed by the publishing process; docs/local-cloud.md, "The fast mode"); the
    workers, the runtime, batches, retries and DLQs are the same.
    `stall_sweep` runs the stall sweep on its rate schedule (`soorma_dev.localcloud.stall_sweep`;
    None: no sweep).
    """

    def __init__(
        self,
        function_paths: Sequence[Path | str],
        *,
        stage: str = "local",
        port: int = 0,
        time_scale: float = 0.1,
        include_platform: bool = True,
        env: dict[str, str] | None = None,
        state_dir: Path | str = Path(".soorma"),
        function_timeout_seconds: int = DEFAULT_FUNCTION_TIMEOUT_SECONDS,
        moto_patches: bool = True,
        concurrency: int = 1,
        server_profile: Path | None = None,
        dynamodb_server: bool = False,
        restart_workers: bool = True,
        reload_code: bool = False,
        report_worker: Callable[[str], None] = report_to_stderr,
        front_door_port: int | None = None,
        fast: bool = False,
        stall_sweep: StallSweepSchedule | None = DEFAULT_STALL_SWEEP,
    ) -> None:
        self.fast = fast
        #: The fast mode's database, made at start.
        self.fast_store: FastStore | None = None
        paths = [Path(p) for p in function_paths]
        if include_platform:
            resolved = {p.resolve() for p in paths}
            paths += [p for p in PLATFORM_FUNCTIONS if p.resolve() not in resolved]
        self.function_paths = paths
        self.stage = stage
        self.time_scale = time_scale
        self.env = dict(env or {})
        self.state_dir = Path(state_dir).resolve()
        self.function_timeout_seconds = function_timeout_seconds
        self.visibility_timeout_seconds = max(
            1, round(visibility_timeout_for(function_timeout_seconds) * time_scale)
        )
        #: The invocation's time as the handler (and its claims) see it: the function timeout,
        #: but at most two scaled visibility timeouts. On AWS a claim held by a crashed
        #: invocation expires at its timeout, before the record's next delivery; with the
        #: visibility scaled and the timeout not, it would outlive every receive of the record
        #: and the record would be dead-lettered as "in progress".
        self.invocation_seconds = min(
            float(function_timeout_seconds), 2.0 * self.visibility_timeout_seconds
        )
        self.server = MotoServer(
            port,
            log_path=self.state_dir / "logs" / "moto.log",
            patches=moto_patches,
            profile_path=server_profile,
        )
        # DynamoDB in a moto process of its own: the claims' requests run on another core
        # (docs/local-cloud.md, "Throughput"); EventBridge and SQS must share one process.
        self.dynamodb_server = (
            MotoServer(
                log_path=self.state_dir / "logs" / "moto-dynamodb.log",
                patches=moto_patches,
                profile_path=server_profile.with_suffix(".dynamodb.pstats")
                if server_profile
                else None,
                threads=32,
            )
            if dynamodb_server
            else None
        )
        self.manifests: list[AgentManifest] = []
        self.concurrency = max(1, concurrency)
        self.workers: list[WorkerProcess] = []
        self.watcher: DeadLetterWatcher | None = None
        #: Fires request deadlines (moto stores schedules, never fires them).
        self.schedules: SchedulePump | None = None
        self.restart_workers = restart_workers
        self.reload_code = reload_code
        self.report_worker = report_worker
        self.supervisor: WorkerSupervisor | None = None
        #: The HTTP API on localhost when `front_door_port` is given (0: a free port).
        self.front_door = None if front_door_port is None else FrontDoorServer(front_door_port)
        #: The stall sweep's rate and threshold (scaled by `time_scale`); None: no sweep.
        self.stall_sweep = stall_sweep
        self._started = False

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT` of the moto server."""
        return self.server.endpoint_url

    @property
    def service_endpoints(self) -> dict[str, str]:
        """Services served by another moto process than `endpoint_url` (`{"dynamodb": url}`)."""
        if self.dynamodb_server is None:
            return {}
        return {"dynamodb": self.dynamodb_server.endpoint_url}

    def start(self, timeout: float = 120.0) -> LocalCloud:
        """Start moto, create the resources, start the workers; stop everything on failure."""
        if self.fast and self.front_door is not None:
            raise ValueError(
                "the front door runs only in the faithful mode: leave out fast=True (--fast)"
            )
        deadline = time.monotonic() + timeout
        atexit.register(self.stop)
        self._started = True
        try:
            self._prepare_state_dir()
            chosen = agents_to_run(
                read_manifests(self.function_paths), self.function_paths, PLATFORM_FUNCTIONS
            )
            self.manifests = [manifest for manifest, _ in chosen]
            self.function_paths = [path for _, path in chosen]
            # every pump thread may hold one waitress thread in a long poll
            pollers = sum(len(m.topics()) for m in self.manifests) * self.concurrency
            self.server.threads = pollers + 32
            self.server.start(timeout=max(1.0, deadline - time.monotonic()))
            if self.dynamodb_server is not None:
                self.dynamodb_server.start(timeout=max(1.0, deadline - time.monotonic()))
            session = EndpointSession(self.endpoint_url, self.service_endpoints)
            platform = provision(
                self.manifests,
                stage=self.stage,
                session=session,
                visibility_timeout_seconds=self.visibility_timeout_seconds,
            )
            activity = ActivityLog(self.state_dir / ACTIVITY_FILE)
            if self.fast:
                self.fast_store = create_store(
                    self.state_dir / "run" / FAST_DATABASE,
                    platform,
                    self.manifests,
                    visibility_timeout_seconds=self.visibility_timeout_seconds,
                    event_log_agent=self._event_log_agent(),
                )
            self._bind(session, platform, self.state_dir, activity, self.fast_store)
            self._start_workers(platform, activity, deadline)
            if self.restart_workers:
                agents = [w for w in self.workers if w.spec.record_handled]  # not the platform
                self.supervisor = WorkerSupervisor(
                    self.workers, self.report_worker, reload_code=agents if self.reload_code else ()
                )
                self.supervisor.start()
            self.watcher = DeadLetterWatcher(self.dead_letter_queues(), activity)
            self.watcher.start()
            self.schedules = SchedulePump(
                self.client("scheduler"),
                self.client("events"),
                time_scale=self.time_scale,
                invoke=self._sweep_targets(platform),
            )
            self.schedules.start()
            if self.front_door is not None:
                self.front_door.start(self, deadline)
            write_state(
                self.state_dir,
                CloudState(
                    os.getpid(),
                    self.endpoint_url,
                    platform,
                    activity.path,
                    now_iso(),
                    self.service_endpoints,
                    str(self.fast_store.path) if self.fast_store else None,
                ),
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _sweep_targets(self, platform: Platform) -> dict[str, LocalTarget]:
        """The stall sweep's rate schedule (created in moto) and what runs it here."""
        if self.stall_sweep is None:
            return {}
        arn = create_sweep_schedule(self.client("scheduler"), platform, self.stall_sweep)
        run = local_sweep(
            platform, self.client("dynamodb"), self.client("events"), time_scale=self.time_scale
        )
        return {arn: run}

    def _prepare_state_dir(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / ACTIVITY_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.state_dir / "run", ignore_errors=True)
        (self.state_dir / "run").mkdir()

    def _event_log_agent(self) -> str | None:
        """The name of the platform's event log among the agents (None when not included)."""
        for manifest, path in zip(self.manifests, self.function_paths, strict=True):
            if path.resolve() in PLATFORM_FUNCTIONS:
                return manifest.name
        return None

    def _start_workers(self, platform: Platform, activity: ActivityLog, deadline: float) -> None:
        event_log = self._event_log_agent() if self.fast_store is not None else None
        for manifest, path in zip(self.manifests, self.function_paths, strict=True):
            if manifest.name == event_log:  # fast: its rules feed the event log table
                continue
            queues = platform.agents[manifest.name].queues
            spec = WorkerSpec(
                agent=manifest.name,
                path=str(path.resolve()),
                function_name=function_name(self.stage, manifest.name),
                queues=[QueueSpec(t.value, url, arn) for t, (url, arn, _) in queues.items()],
                activity_path=str(activity.path),
                timeout_seconds=self.invocation_seconds,
                record_handled=manifest.kind != AgentKind.PLATFORM,
                fast_database=str(self.fast_store.path) if self.fast_store else None,
            )
            env = {
                **platform.environment(manifest.name, manifest.llm_models),
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **{f"AWS_ENDPOINT_URL_{s.upper()}": u for s, u in self.service_endpoints.items()},
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.function_timeout_seconds),
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_TRACE_DISABLED": "true",
                **self.env,
            }
            instances = 1 if manifest.kind == AgentKind.PLATFORM else self.concurrency
            for instance in range(1, instances + 1):
                worker = WorkerProcess(spec, env, self.state_dir / "run", instance)
                self.workers.append(worker)
                worker.start()
        for worker in self.workers:
            worker.wait_ready(deadline)

    def stop(self) -> None:
        """Stop the watcher, the workers and the server; remove the state file. Idempotent."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        if self.supervisor:
            self.supervisor.stop()
        if self.watcher:
            self.watcher.stop()
        if self.schedules:
            self.schedules.stop()
        if self.front_door is not None:
            self.front_door.stop()
        for worker in self.workers:
            worker.request_stop()
        for worker in self.workers:
            worker.stop()
        self.server.stop()
        if self.dynamodb_server is not None:
            self.dynamodb_server.stop()
        remove_state(self.state_dir, os.getpid())

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- waiting ------------------------------------------------------------------------------

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Return once every queue is empty with nothing in flight (twice in a row) and dead
        letters are recorded; raise `TimeoutError` after `timeout` s, or `WorkerError` if a
        worker died."""
        deadline = time.monotonic() + timeout
        quiet_rounds = 0
        while quiet_rounds < 2:
            self._check_workers()
            quiet_rounds = quiet_rounds + 1 if self._queues_empty() else 0
            if quiet_rounds < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the local cloud was still busy after {timeout} s: {self._busy()}"
                    )
                time.sleep(0.05)
        if self.watcher:
            self.watcher.check()

    def _queue_urls(self) -> list[str]:
        return [url for q in self.platform.agents.values() for url, _arn, _dlq in q.queues.values()]

    def _depth(self, url: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def _queues_empty(self) -> bool:
        return all(self._depth(url) == 0 for url in self._queue_urls())

    def _busy(self) -> dict[str, int]:
        depths = {url.rsplit("/", 1)[-1]: self._depth(url) for url in self._queue_urls()}
        return {name: n for name, n in depths.items() if n}

    def _check_workers(self) -> None:
        if self.supervisor is not None:  # a dead worker is restarted; one that cannot be fails
            for label, why in self.supervisor.failed.items():
                raise WorkerError(f"worker {label!r} died and could not be restarted: {why}")
            return
        for worker in self.workers:
            if not worker.alive():
                raise WorkerError(f"worker {worker.label!r} died:\n{worker.log_tail()}")

    def __repr__(self) -> str:
        workers = [w.label for w in self.workers]
        return f"LocalCloud(stage={self.stage!r}, endpoint={self.endpoint_url!r}, {workers=})"
