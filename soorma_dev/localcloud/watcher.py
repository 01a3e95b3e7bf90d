"""Noticing dead letters nobody reported: SQS moves a message to its DLQ on a receive, after
`maxReceiveCount` receives, and tells no one. The watcher records them in the activity file."""

from __future__ import annotations

import threading

from soorma_dev.localcloud.activity import ActivityLog, now_iso
from soorma_dev.localcloud.dead_letters import DeadLetterQueues
from soorma_dev.localcloud.models import ActivityLine
from soorma_dev.polling import Poller


class DeadLetterWatcher(Poller):
    """Polls DLQ depths; when one grows, scans it and records the new SQS/rule dead letters
    (the runtime's permanent errors are recorded by the worker that sent them)."""

    def __init__(
        self, queues: DeadLetterQueues, activity: ActivityLog, interval: float = 1.0
    ) -> None:
        super().__init__()
        self.queues = queues
        self.activity = activity
        self.interval = interval
        self._depths: dict[str, int] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def check(self) -> int:
        """One round: scan the DLQs whose depth changed; return how many new dead letters."""
        with self._lock:
            changed = []
            for agent, _topic, _url, dlq_url in self.queues.queues():
                depth = self.queues.depth(dlq_url)
                if depth != self._depths.get(dlq_url, 0):
                    changed.append(agent)
                self._depths[dlq_url] = depth
            lines = []
            for agent in dict.fromkeys(changed):
                for letter in self.queues.scan(agent):
                    if letter.message_id in self._seen:
                        continue
                    self._seen.add(letter.message_id)
                    if letter.kind == "permanent-error":
                        continue
                    envelope = letter.envelope
                    lines.append(
                        ActivityLine(
                            time=now_iso(),
                            topic=letter.topic,
                            event_type=envelope.type if envelope else None,
                            agent=letter.agent,
                            outcome="dead-lettered",
                            event_id=envelope.id if envelope else None,
                            correlation_id=envelope.correlation_id if envelope else None,
                            reason=f"{letter.kind}: {letter.reason}",
                            message_id=letter.message_id,
                            causation_id=envelope.causation_id if envelope else None,
                        )
                    )
            self.activity.append(lines)
            return len(lines)
