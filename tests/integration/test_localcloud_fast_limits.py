"""The fast mode at the limits the faithful mode (moto, `soorma_dev.localcloud.limits`) and AWS
keep: PutEvents' 256 KB per request (the same check, the same `ValidationException`, the same
boundary), one receive counting a message once even with `VisibilityTimeout=0`, and a store
whose file is gone reported by name as "no local cloud running". No moto needed.

The adversarial cases are in `test_lean_runtime_at_the_edges.py`; these pin what they leave
open: the error's shape, the exact boundary, receive counts across receives, the CLI's exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from botocore.exceptions import ClientError

from soorma_common import naming
from soorma_dev.cli.errors import EXIT_NOT_RUNNING, reported_errors
from soorma_dev.localcloud.fast.database import FastStoreMissing
from soorma_dev.localcloud.fast.store import FastStore
from soorma_dev.localcloud.limits import PUT_EVENTS_MAX_BYTES, entry_size, request_too_large
from soorma_dev.localcloud.state import LocalCloudNotRunning
from tests.integration.test_localcloud_fast_store import (
    STAGE,
    envelope,
    fast_store,
    queue_url,
)


def entry_of(size: int) -> dict[str, Any]:
    """A PutEvents entry for billing (`order.placed`) of exactly `size` bytes as AWS counts
    them (ASCII padding in its data)."""

    def entry(pad: int) -> dict[str, Any]:
        return {
            "Source": "soorma.tests",
            "DetailType": "order.placed",
            "Detail": envelope("order.placed", data={"pad": "x" * pad}).to_json(),
            "EventBusName": naming.bus_name(STAGE),
        }

    base = entry_size(entry(0))
    assert size >= base
    built = entry(size - base)
    assert entry_size(built) == size
    return built


def depth(store: FastStore, url: str) -> int:
    return store.sqs.depths([url])[url]


# ---- PutEvents: 256 KB per request --------------------------------------------------------------


def test_a_request_over_256_kb_is_the_faithful_mode_s_validation_exception(
    tmp_path: Path,
) -> None:
    store = fast_store(tmp_path)
    entries = [entry_of(100_000) for _ in range(3)]

    with pytest.raises(ClientError) as refused:
        store.eventbridge.put_events(Entries=entries)

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert refused.value.operation_name == "PutEvents"
    # the faithful mode's middleware words it the same, from the same function
    assert error["Message"] == request_too_large(json.dumps({"Entries": entries}).encode())
    assert str(sum(entry_size(e) for e in entries)) in error["Message"]
    # refused whole: nothing routed to a queue or the event log
    assert depth(store, queue_url(store, "billing")) == 0
    assert store.database.read("SELECT COUNT(*) FROM event_log") == [(0,)]


def test_a_request_of_exactly_256_kb_is_routed_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    store = fast_store(tmp_path)
    half = PUT_EVENTS_MAX_BYTES // 2
    at_limit = [entry_of(half), entry_of(PUT_EVENTS_MAX_BYTES - half)]
    assert request_too_large(json.dumps({"Entries": at_limit}).encode()) is None

    response = store.eventbridge.put_events(Entries=at_limit)
    assert response["FailedEntryCount"] == 0
    assert depth(store, queue_url(store, "billing")) == 2

    over = [entry_of(half), entry_of(PUT_EVENTS_MAX_BYTES - half + 1)]
    assert request_too_large(json.dumps({"Entries": over}).encode()) is not None
    with pytest.raises(ClientError):
        store.eventbridge.put_events(Entries=over)
    assert depth(store, queue_url(store, "billing")) == 2


# ---- ReceiveMessage with VisibilityTimeout=0 ----------------------------------------------------


def test_receives_with_visibility_zero_count_each_message_once_per_receive(
    tmp_path: Path,
) -> None:
    store = fast_store(tmp_path)
    url = queue_url(store, "billing")
    dlq = store.sqs.queue(url).dlq_url
    assert dlq is not None
    store.eventbridge.put_events(Entries=[entry_of(2_000) for _ in range(3)])
    max_receives = store.sqs.queue(url).max_receives
    assert max_receives is not None

    for receive in range(1, max_receives + 1):
        got = store.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = got["Messages"]
        assert len(messages) == len({m["MessageId"] for m in messages}) == 3
        counts = {m["Attributes"]["ApproximateReceiveCount"] for m in messages}
        assert counts == {str(receive)}
        assert depth(store, dlq) == 0

    # a fresh message beside three spent ones: the receive moves those and returns it, once
    store.eventbridge.put_events(Entries=[entry_of(2_000)])
    got = store.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    [fresh] = got["Messages"]
    assert fresh["Attributes"]["ApproximateReceiveCount"] == "1"
    assert depth(store, dlq) == 3
    assert depth(store, url) == 1


# ---- a store whose file is gone -----------------------------------------------------------------


def test_a_missing_store_is_no_local_cloud_running_naming_the_file_and_the_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run" / "fast.sqlite3"
    store = FastStore(path)

    with pytest.raises(FastStoreMissing) as gone:
        store.eventbridge.put_events(Entries=[entry_of(1_000)])

    assert isinstance(gone.value, LocalCloudNotRunning)
    assert str(path) in str(gone.value) and "soorma dev --fast" in str(gone.value)
    assert not path.exists() and not path.parent.exists()

    # another terminal's command: one line and exit 3 (no local cloud), not a traceback
    with pytest.raises(typer.Exit) as exited, reported_errors():
        store.sqs.get_queue_url(QueueName="anything")
    assert exited.value.exit_code == EXIT_NOT_RUNNING
