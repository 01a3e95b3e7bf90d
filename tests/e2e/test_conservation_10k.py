"""The 10,000-event conservation run (opt-in: `SOORMA_CONSERVATION_10K=1`, about ten minutes):
the agents and faults of test_conservation.py, and a worker killed with `kill -9` mid-run.

The local cloud notices the dead worker, reaps it and starts a new one (as Lambda starts a new
execution environment); the batch it held comes back after the visibility timeout. Then:
handled + dead-lettered = sent, none lost, one side effect per handled event, exactly the
poison and doomed events in the DLQs; after the fix is deployed, the redrive delivers the rest.

    SOORMA_CONSERVATION_10K=1 /work/wt/wtrun pytest -q tests/e2e/test_conservation_10k.py
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest

from tests.e2e.test_conservation import (
    DOOMED,
    POISON,
    conservation_cloud,
    effects,
    events_to_send,
)

EVENTS = 10_000
KILL_AFTER_LINES = 3_000  # activity lines (handlings) before the worker is killed

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SOORMA_CONSERVATION_10K") != "1",
        reason="opt-in (about ten minutes): SOORMA_CONSERVATION_10K=1",
    ),
]


def kill_a_worker_mid_run(cloud, victim: str, killed: dict[str, int]) -> None:
    """Once `KILL_AFTER_LINES` handlings are recorded, `kill -9` the worker `victim`."""
    deadline = time.monotonic() + 1800
    while len(cloud.activity()) < KILL_AFTER_LINES:
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)
    worker = next(w for w in cloud.workers if w.label == victim)
    killed["pid"] = worker.process.pid
    killed["at_line"] = len(cloud.activity())
    os.kill(worker.process.pid, signal.SIGKILL)


def test_ten_thousand_events_with_a_worker_killed_mid_run(tmp_path_factory) -> None:
    cloud, store = conservation_cloud(tmp_path_factory)
    reports: list[str] = []
    cloud.report_worker = reports.append
    sent = events_to_send(EVENTS)
    sent_ids = {e.id for e in sent}
    killed: dict[str, int] = {}
    started = time.monotonic()
    with cloud:
        killer = threading.Thread(
            target=kill_a_worker_mid_run, args=(cloud, "cons-alpha#2", killed), daemon=True
        )
        killer.start()
        cloud.publish(sent)
        killer.join()
        cloud.wait_until_idle(timeout=1800)
        first_pass = time.monotonic() - started

        assert killed, "the worker was not killed"
        assert reports == ["worker cons-alpha#2 died (signal 9); restarting"]
        handled = {a.event_id for a in cloud.activity() if a.outcome == "handled"} & sent_ids
        letters = cloud.dead_letters()
        dead = {d.envelope.id for d in letters if d.envelope}
        assert handled.isdisjoint(dead)
        assert handled | dead == sent_ids  # none lost
        assert len(handled) + len(dead) == EVENTS
        poison = {e.id for e in sent if e.data.get("poison")}
        doomed = {e.id for e in sent if e.data.get("doomed")}
        unexpected = [
            (d.envelope.id, d.agent, d.kind, d.reason)
            for d in letters
            if d.envelope and d.envelope.id not in poison | doomed
        ]
        assert dead == poison | doomed, unexpected
        assert len(poison) == POISON and len(doomed) == DOOMED
        by_type = {t: {e.id for e in sent if e.type == t} for t in ("cons.a", "cons.b", "cons.c")}
        assert set(effects(store, "cons-alpha")) == by_type["cons.a"]
        assert set(effects(store, "cons-beta")) == by_type["cons.b"] - doomed
        gamma = effects(store, "cons-gamma")
        causes = Counter(cause for cause in gamma.values() if cause)
        assert set(causes) == by_type["cons.a"] and set(causes.values()) == {2}

        (store / "fixed").touch()  # the fix is deployed
        assert cloud.redrive() == POISON + DOOMED
        cloud.wait_until_idle(timeout=600)
        assert cloud.dead_letters() == []
        handled = {a.event_id for a in cloud.activity() if a.outcome == "handled"} & sent_ids
        assert handled == sent_ids
        assert set(effects(store, "cons-beta")) == by_type["cons.b"]
        originals = {k for k, cause in effects(store, "cons-gamma").items() if not cause}
        assert originals == by_type["cons.c"]
    print(
        f"\n{EVENTS} events: first pass {first_pass:.0f} s, worker killed at activity line "
        f"{killed['at_line']}, {len(dead)} dead letters redriven and handled"
    )
