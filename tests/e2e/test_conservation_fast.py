"""The conservation test of `test_conservation.py` (its three tests, imported unchanged) on the
local cloud's fast mode: the same agents, events and injected faults (failures before and after
the side effect, a partial PutEvents, handlers slower than the visibility timeout with two
workers per agent, poison and doomed events), with the bus, queues, claims and event log in
SQLite instead of moto. Every event is handled exactly once or dead-lettered, none lost."""

from __future__ import annotations

import pytest

from tests.e2e.test_conservation import (
    conservation_cloud,
    events_to_send,
    test_every_event_is_handled_or_dead_lettered_and_none_is_lost,
    test_side_effect_store_holds_exactly_one_entry_per_handled_event,
    test_the_injected_failures_really_happened,
)

__all__ = [
    "test_every_event_is_handled_or_dead_lettered_and_none_is_lost",
    "test_side_effect_store_holds_exactly_one_entry_per_handled_event",
    "test_the_injected_failures_really_happened",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    cloud, store = conservation_cloud(tmp_path_factory)
    cloud.fast = True  # the faithful test's cloud, in the fast mode (chosen before start)
    sent = events_to_send()
    with cloud:
        assert cloud.fast_store is not None
        cloud.publish(sent)
        cloud.wait_until_idle(timeout=240)
        yield cloud, sent, store


def test_the_run_was_fast_mode(run) -> None:
    cloud, sent, _ = run
    # nothing went through moto's queues: the SQLite event log holds every event sent
    assert cloud.fast_store.logged_envelopes(sent[0].correlation_id)[0].id == sent[0].id
    moto_sqs = cloud.session.client("sqs")
    for url in cloud._queue_urls():
        attributes = moto_sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
    assert not [w for w in cloud.workers if w.spec.agent == "event-log"]
    # the claims too (the agents' own transport included): in SQLite, none in moto's table
    table = cloud.platform.tables["idempotency"]
    assert cloud.session.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 0
    database = cloud.fast_store.database.connection()
    assert database.execute("SELECT COUNT(*) FROM claims").fetchone()[0] >= len(sent)
