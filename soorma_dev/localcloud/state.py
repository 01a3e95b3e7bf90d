"""The state file (`<state_dir>/local.json`) a running local cloud writes for other terminals."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soorma_common.topics import EventTopic
from soorma_dev.provision import AgentQueues, Platform

STATE_FILE = "local.json"
ACTIVITY_FILE = "activity.jsonl"


class LocalCloudNotRunning(RuntimeError):
    """No local cloud is running for this state directory (start one with `soorma dev`)."""


@dataclass(frozen=True)
class CloudState:
    """What another process needs to talk to a running local cloud."""

    pid: int
    endpoint_url: str
    platform: Platform
    activity_path: Path
    started_at: str
    #: services served by another moto process (`{"dynamodb": url}`); the rest at `endpoint_url`
    service_endpoints: dict[str, str] = field(default_factory=dict)
    #: the fast mode's SQLite database (queues, claims, event log); None in the faithful mode
    fast_database: str | None = None

    def to_json(self) -> str:
        """The state file's text."""
        platform = {
            "stage": self.platform.stage,
            "bus_name": self.platform.bus_name,
            "tables": self.platform.tables,
            "agents": {
                name: {topic.value: list(urls) for topic, urls in q.queues.items()}
                for name, q in self.platform.agents.items()
            },
        }
        record = {
            "pid": self.pid,
            "endpoint_url": self.endpoint_url,
            "platform": platform,
            "activity_path": str(self.activity_path),
            "started_at": self.started_at,
            "service_endpoints": self.service_endpoints,
            "fast_database": self.fast_database,
        }
        return json.dumps(record, indent=2)

    @classmethod
    def from_json(cls, text: str) -> CloudState:
        """Parse the state file's text."""
        record: dict[str, Any] = json.loads(text)
        raw = record["platform"]
        agents = {
            name: AgentQueues(
                agent=name,
                queues={EventTopic.parse(t): (u[0], u[1], u[2]) for t, u in queues.items()},
            )
            for name, queues in raw["agents"].items()
        }
        platform = Platform(raw["stage"], raw["bus_name"], raw["tables"], agents)
        return cls(
            pid=int(record["pid"]),
            endpoint_url=record["endpoint_url"],
            platform=platform,
            activity_path=Path(record["activity_path"]),
            started_at=record["started_at"],
            service_endpoints=dict(record.get("service_endpoints") or {}),
            fast_database=record.get("fast_database"),
        )


def write_state(state_dir: Path, state: CloudState) -> Path:
    """Write the state file atomically; return its path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(state.to_json(), encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_state(state_dir: Path) -> CloudState:
    """Read the state file of a running local cloud, or raise `LocalCloudNotRunning`."""
    path = Path(state_dir) / STATE_FILE
    try:
        state = CloudState.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocalCloudNotRunning(
            f"no local cloud is running here ({path} does not exist): start one with `soorma dev`"
        ) from None
    except (ValueError, KeyError) as exc:
        raise LocalCloudNotRunning(f"{path} is not a local cloud state file ({exc})") from None
    if not _alive(state.pid):
        raise LocalCloudNotRunning(
            f"the local cloud that wrote {path} (pid {state.pid}) is gone: "
            "start one with `soorma dev`"
        )
    return state


def remove_state(state_dir: Path, pid: int) -> None:
    """Remove the state file if this process wrote it."""
    path = Path(state_dir) / STATE_FILE
    try:
        if CloudState.from_json(path.read_text(encoding="utf-8")).pid == pid:
            path.unlink()
    except (FileNotFoundError, ValueError, KeyError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
