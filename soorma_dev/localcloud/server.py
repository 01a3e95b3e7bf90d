"""moto in server mode on 127.0.0.1, in a child process of its own (`MotoServer`).

The child (`python -m soorma_dev.localcloud.server --port N`) applies the speed patches of
`moto_patches/`, serves moto's WSGI app (waitress, or werkzeug), prints `READY <port>` and serves
until its stdin closes or it gets SIGTERM; so it also ends when its parent dies. On a moto
version the patches were not checked against it prints one line saying so and exits with 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from soorma_dev.localcloud.processes import child_environment, stop_process

HOST = "127.0.0.1"
READY = "READY"


class MotoServerError(RuntimeError):
    """The moto server did not start."""


class MotoServer:
    """Start and stop the moto server child process; `endpoint_url` once started."""

    def __init__(
        self,
        port: int = 0,
        *,
        log_path: Path | None = None,
        patches: bool = True,
        profile_path: Path | None = None,
        http: str = "waitress",
        threads: int = 64,
    ) -> None:
        self.port = port
        self.http = http
        self.threads = threads
        self.profile_path = profile_path
        self.log_path = log_path
        self.patches = patches
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the child and wait (up to `timeout` s) for it to listen; return the endpoint."""
        command = [sys.executable, "-m", "soorma_dev.localcloud.server", "--port", str(self.port)]
        if not self.patches:
            command.append("--no-patches")
        if self.profile_path:
            command += ["--profile", str(self.profile_path)]
        command += ["--http", self.http, "--threads", str(self.threads)]
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            text=True,
            env=child_environment({}),
        )
        line = _read_line(self.process, timeout)
        if not line.startswith(READY):
            self.stop()
            raise MotoServerError(f"moto server did not start (said {line!r}); see {self.log_path}")
        self.port = int(line.split()[1])
        return self.endpoint_url

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after a few seconds)."""
        if self.process is not None:
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            stop_process(self.process, timeout=60.0 if self.profile_path else 5.0)
            if self.process.stdout:
                self.process.stdout.close()
            self.process = None
        if self._log:
            self._log.close()
            self._log = None


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if not line:  # end of output: the child ended before saying READY
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=5.0)
                    return f"exited with {process.returncode}"
                return line.strip()
            if process.poll() is not None:
                return f"exited with {process.returncode}"
        return "timeout"
    finally:
        selector.close()


def main(argv: list[str] | None = None) -> None:
    """Run the moto server until stdin closes or SIGTERM."""
    parser = argparse.ArgumentParser(description="moto server for the Soorma local cloud")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-patches", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of every request to this file")
    parser.add_argument("--http", choices=["waitress", "werkzeug"], default="waitress")
    parser.add_argument("--threads", type=int, default=64, help="waitress request threads")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from soorma_dev.localcloud.moto_patches import UnsupportedMotoVersionError, apply_all

    try:
        applied = [] if args.no_patches else apply_all()
    except UnsupportedMotoVersionError as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(2)
    from soorma_dev.localcloud.limits import PutEventsSizeLimit
    from soorma_dev.moto_item_limit import use_dynamodb_item_limit

    use_dynamodb_item_limit()  # a fidelity fix, patches or not: DynamoDB's 400 KB

    app: Any = PutEventsSizeLimit(DomainDispatcherApplication(create_backend_app))
    profiler = RequestProfiler(app) if args.profile else None
    serve = _waitress if args.http == "waitress" else _werkzeug
    port, run, shutdown = serve(profiler or app, args.port, args.threads)
    threading.Thread(target=run, daemon=True).start()
    print(f"{READY} {port}", flush=True)
    print(
        f"moto server on {HOST}:{port} ({args.http}), patches: {', '.join(applied) or 'none'}",
        file=sys.stderr,
    )

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=_set_when_stdin_closes, args=(done,), daemon=True).start()
    done.wait()
    shutdown()
    if profiler is not None:
        profiler.dump(args.profile)
    os._exit(0)


Serving = tuple[int, Callable[[], None], Callable[[], None]]


def _waitress(app: Any, port: int, threads: int) -> Serving:
    """waitress: a pool of `threads` and HTTP/1.1 keep-alive, so clients reuse connections
    (werkzeug's dev server closes every connection and starts a thread per request)."""
    import waitress

    server: Any = waitress.create_server(
        app, host=HOST, port=port, threads=threads, channel_timeout=120, ident="moto"
    )
    return int(server.effective_port), server.run, server.close


def _werkzeug(app: Any, port: int, threads: int) -> Serving:
    """moto's own choice: werkzeug's threaded development server."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    return server.server_port, server.serve_forever, server.shutdown


class RequestProfiler:
    """WSGI middleware: profiles each request (in its own thread) and merges the profiles."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.stats: Any = None
        self.requests = 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        try:
            return list(self.app(environ, start_response))
        finally:
            profile.disable()
            with self.lock:
                self.requests += 1
                if self.stats is None:
                    self.stats = pstats.Stats(profile)
                else:
                    self.stats.add(profile)

    def dump(self, path: str) -> None:
        """Write the merged profile (pstats format)."""
        with self.lock:
            if self.stats is not None:
                self.stats.dump_stats(path)


def _set_when_stdin_closes(event: threading.Event) -> None:
    """Set `event` when stdin reaches its end: the parent closed it, or died."""
    sys.stdin.read()
    event.set()


if __name__ == "__main__":
    main()
