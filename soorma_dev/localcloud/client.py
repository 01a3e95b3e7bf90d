"""`LocalCloudClient`: a running local cloud, reached from another terminal (its state file)."""

from __future__ import annotations

from pathlib import Path

from soorma_dev.localcloud.activity import ActivityLog
from soorma_dev.localcloud.fast.store import FastStore
from soorma_dev.localcloud.operations import CloudOperations
from soorma_dev.localcloud.session import EndpointSession
from soorma_dev.localcloud.state import CloudState, LocalCloudNotRunning, read_state


class LocalCloudClient(CloudOperations):
    """send / trace / dead_letters / redrive / activity against a local cloud in another process."""

    def __init__(self, state: CloudState, state_dir: Path) -> None:
        self.state = state
        self.endpoint_url = state.endpoint_url
        self._bind(
            EndpointSession(state.endpoint_url, state.service_endpoints),
            state.platform,
            state_dir,
            ActivityLog(state.activity_path),
            FastStore(state.fast_database) if state.fast_database else None,
        )

    @classmethod
    def connect(cls, state_dir: Path = Path(".soorma")) -> LocalCloudClient:
        """Read `<state_dir>/local.json`; raise `LocalCloudNotRunning` if no cloud is running."""
        state = read_state(Path(state_dir))
        client = cls(state, Path(state_dir))
        try:
            client.session.client("sqs").list_queues(MaxResults=1)  # moto (fast mode too)
        except Exception as exc:
            raise LocalCloudNotRunning(
                f"the local cloud at {state.endpoint_url} does not answer ({type(exc).__name__}): "
                "start one with `soorma dev`"
            ) from None
        return client
