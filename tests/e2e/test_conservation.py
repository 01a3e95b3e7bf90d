"""Conservation: every event sent is either handled exactly once or in a DLQ, under injected
failures, through the local cloud (moto's server, worker processes, idempotency, event log).

2,000 events across three agents (alpha, beta, gamma). Injected, each chosen by a hash of the
event id: transient failures before the side effect (5 %) and after it (5 %); a network failure
after a partial PutEvents of alpha's follow-up events (10 % of the calls; the runtime puts a
batch's events together, so the whole batch is retried); beta handlers
slower than the visibility timeout (the events at `SLOW_POSITIONS`, with two worker processes
per agent so that another one receives the message again while the first still runs it); poison
events (a permanent error, and a transient error on every delivery). The side-effect store is
one file per (agent, event id); every execution of a side effect is also appended to a log.

The fault selection is deterministic: the events sent have fixed ids (`cons-00042`), their
follow-ups' ids derive from them (`soorma.bus`: uuid5 of the cause), so the hash picks the same
events on every run, and the slow handlers are chosen by position. No assertion about injected
faults can pass or fail by chance. The 10,000-event run with a worker killed mid-run is
`test_conservation_10k.py` (opt-in).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.localcloud import LocalCloud

SENT = 2000
POISON = 5  # gamma: DomainError (permanent) -> DLQ at once
DOOMED = 2  # beta: TransientError on every delivery -> DLQ after maxReceiveCount
TIME_SCALE = 1 / 90  # 2 s visibility timeout
SLOW_SECONDS = 2.6  # longer than the visibility timeout
SLOW_POSITIONS = (100, 850, 1600)  # cons.b events (position % 3 == 1) slower than the timeout

#: Deterministic fault choices for agent code: `chosen` (by a hash of the event id) and
#: `first_time` (a marker file under `STORE / "markers"`, so a fault fires once per name).
FAULTS = """
import hashlib
import os


def chosen(event_id, salt, per_mille):
    digest = hashlib.sha256(f"{salt}:{event_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 1000 < per_mille


def first_time(name):
    try:
        os.close(os.open(STORE / "markers" / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
"""

COMMON = """
import os
import time
from pathlib import Path

from soorma import Agent
from soorma.runtime import AwsTransport, LambdaRuntime
from soorma_common.errors import DomainError, TransientError
from soorma_common.topics import EventTopic

STORE = Path(os.environ.get("CONSERVATION_STORE", "."))


def fixed():
    '''The fix of the poison and doomed events is deployed (the 10,000-event run's second act).'''
    return (STORE / "fixed").exists()


def side_effect(agent, event):
    '''The handler's effect: one file per (agent, event id), and a line per execution.'''
    if chosen(event.id, "before", 50) and first_time(f"before-{agent}-{event.id}"):
        raise TransientError("injected before the side effect")
    (STORE / "effects" / agent / event.id).write_text(event.causation_id or "")
    fd = os.open(STORE / "executions.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{agent} {event.id}\\n".encode())
    os.close(fd)
    if chosen(event.id, "after", 50) and first_time(f"after-{agent}-{event.id}"):
        raise TransientError("injected after the side effect")
"""

ALPHA = """
class PartialTransport(AwsTransport):
    '''The network fails after PutEvents stored half of the entries of a call.'''

    def put_entries(self, entries):
        import json
        cause = json.loads(entries[0]["Detail"]).get("causationid", "")
        if len(entries) > 1 and chosen(cause, "partial", 100) and first_time(f"partial-{cause}"):
            super().put_entries(entries[: len(entries) // 2])
            raise ConnectionError("injected: connection lost after a partial PutEvents")
        return super().put_entries(entries)


class Alpha(Agent):
    @property
    def runtime(self):
        if self._runtime is None:
            self._runtime = LambdaRuntime(self, transport=PartialTransport())
        return self._runtime


agent = Alpha("cons-alpha")

@agent.on_event("cons.a", topic=EventTopic.BUSINESS_FACTS)
def handle(event, context):
    side_effect("cons-alpha", event)
    for n in range(2):
        context.bus.publish(topic=EventTopic.BUSINESS_FACTS, event_type="cons.c", data={"n": n})

handler = agent.lambda_handler
"""

BETA = """
agent = Agent("cons-beta")

@agent.on_event("cons.b", topic=EventTopic.BUSINESS_FACTS)
def handle(event, context):
    if event.data.get("doomed") and not fixed():
        raise TransientError("injected on every delivery")
    slow = {int(p) for p in os.environ["SLOW_POSITIONS"].split(",")}
    if event.data.get("i") in slow and first_time(f"slow-{event.id}"):
        time.sleep(float(os.environ["SLOW_SECONDS"]))
    side_effect("cons-beta", event)

handler = agent.lambda_handler
"""

GAMMA = """
agent = Agent("cons-gamma")

@agent.on_event("cons.c", topic=EventTopic.BUSINESS_FACTS)
def handle(event, context):
    if event.data.get("poison") and not fixed():
        raise DomainError("injected poison")
    side_effect("cons-gamma", event)

handler = agent.lambda_handler
"""


def events_to_send(count: int = SENT) -> list[EventEnvelope]:
    """`count` events, a third of each type, with fixed ids: the faults they get are fixed."""
    types = ["cons.a", "cons.b", "cons.c"]
    envelopes = []
    for i in range(count):
        event_type = types[i % 3]
        data: dict[str, object] = {"i": i}
        if event_type == "cons.c" and i < 3 * POISON:
            data["poison"] = True
        if event_type == "cons.b" and i < 3 * DOOMED:
            data["doomed"] = True
        envelopes.append(
            EventEnvelope(
                id=f"cons-{i:05d}",
                source="soorma.tests",
                type=event_type,
                topic=EventTopic.BUSINESS_FACTS,
                data=data,
            )
        )
    return envelopes


def agent_folders(root: Path, common: str, sources: dict[str, str]) -> list[Path]:
    """One function folder per agent under `root`: `common`, the fault choices, its source."""
    for name, source in sources.items():
        (root / name).mkdir()
        (root / name / "handler.py").write_text(common + FAULTS + source)
    return [root / name for name in sources]


def conservation_cloud(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalCloud, Path]:
    """The three agents in a local cloud (not started yet) and their side-effect store."""
    store = tmp_path_factory.mktemp("conservation-store")
    for sub in ["markers", "effects/cons-alpha", "effects/cons-beta", "effects/cons-gamma"]:
        (store / sub).mkdir(parents=True)
    root = tmp_path_factory.mktemp("conservation-agents")
    paths = agent_folders(root, COMMON, {"alpha": ALPHA, "beta": BETA, "gamma": GAMMA})
    cloud = LocalCloud(
        paths,
        time_scale=TIME_SCALE,
        concurrency=2,
        state_dir=tmp_path_factory.mktemp("conservation-state"),
        env={
            "CONSERVATION_STORE": str(store),
            "SLOW_SECONDS": str(SLOW_SECONDS),
            "SLOW_POSITIONS": ",".join(map(str, SLOW_POSITIONS)),
        },
    )
    return cloud, store


def test_the_slow_positions_are_beta_events() -> None:
    by_position = {int(e.data["i"]): e.type for e in events_to_send()}
    assert {by_position[p] for p in SLOW_POSITIONS} == {"cons.b"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    cloud, store = conservation_cloud(tmp_path_factory)
    sent = events_to_send()
    with cloud:
        cloud.publish(sent)
        cloud.wait_until_idle(timeout=240)
        yield cloud, sent, store


def effects(store: Path, agent: str) -> dict[str, str]:
    """event id -> causation id, one entry per distinct key in the side-effect store."""
    folder = store / "effects" / agent
    return {f.name: f.read_text() for f in folder.iterdir()}


def test_every_event_is_handled_or_dead_lettered_and_none_is_lost(run) -> None:
    cloud, sent, _ = run
    sent_ids = {e.id for e in sent}
    handled = {a.event_id for a in cloud.activity() if a.outcome == "handled"} & sent_ids
    letters = cloud.dead_letters()
    dead = {d.envelope.id for d in letters if d.envelope}

    # at-least-once: a slow batch can hand a poison event to two invocations, so count ids
    assert len(dead) == POISON + DOOMED
    assert handled.isdisjoint(dead)
    assert handled | dead == sent_ids
    assert len(handled) + len(dead) == SENT
    kinds = Counter({d.envelope.id: d.kind for d in letters if d.envelope}.values())
    assert kinds == {"permanent-error": POISON, "redrive-after-max-receives": DOOMED}


def test_side_effect_store_holds_exactly_one_entry_per_handled_event(run) -> None:
    _, sent, store = run
    by_type = {t: {e.id for e in sent if e.type == t} for t in ("cons.a", "cons.b", "cons.c")}
    poison = {e.id for e in sent if e.data.get("poison")}
    doomed = {e.id for e in sent if e.data.get("doomed")}

    alpha = effects(store, "cons-alpha")
    beta = effects(store, "cons-beta")
    gamma = effects(store, "cons-gamma")
    assert set(alpha) == by_type["cons.a"]
    assert set(beta) == by_type["cons.b"] - doomed
    follow_ups = {event_id for event_id, cause in gamma.items() if cause}
    assert set(gamma) - follow_ups == by_type["cons.c"] - poison
    # two follow-ups per alpha event, each stored once although some were published twice
    causes = Counter(gamma[event_id] for event_id in follow_ups)
    assert set(causes) == by_type["cons.a"]
    assert set(causes.values()) == {2}


def test_the_injected_failures_really_happened(run) -> None:
    cloud, sent, store = run
    reasons = Counter()
    for line in cloud.activity():
        if line.outcome == "failed":
            for marker in (
                "before the side effect",
                "after the side effect",
                "PutEvents failed",
                "held by another invocation",
                "every delivery",
            ):
                if marker in (line.reason or ""):
                    reasons[marker] += 1
    assert reasons["before the side effect"] > 50
    assert reasons["after the side effect"] > 50
    assert reasons["PutEvents failed"] >= 1
    doomed = {e.id for e in sent if e.data.get("doomed")}
    attempts = Counter(a.event_id for a in cloud.activity() if a.event_id in doomed)
    assert attempts == dict.fromkeys(doomed, MAX_RECEIVE_COUNT + 1)  # 5 failures, 1 dead letter
    executions = (store / "executions.log").read_text().splitlines()
    assert len(executions) > len(set(executions))  # side effects re-ran after injected failures
    slow = {p.name.removeprefix("slow-") for p in (store / "markers").glob("slow-*")}
    assert slow == {f"cons-{p:05d}" for p in SLOW_POSITIONS}
