"""Replies and deadlines at their limits, without AWS: a reply keeps its request's workflow,
tenant and user; deadlines are spelled one way and bounded by the pending request's lifetime,
which outlives them; a request's reply topic must reach a result handler; the schedule pump
reads every page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soorma.bus import BusClient
from soorma.deadlines import DEADLINE_MARGIN_SECONDS, check_deadline, deadline_after
from soorma.requests import (
    DynamoDBPendingRequests,
    InMemoryPendingRequests,
    SentRequest,
    check_reply,
    expires_at,
    sent_requests,
)
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import ForgedReplyError, InvalidEnvelopeError, UnreachableReplyError

RESULTS = EventTopic.ACTION_RESULTS
FACTS = EventTopic.BUSINESS_FACTS
NOW = datetime(2026, 12, 3, 7, 30, 0, tzinfo=UTC)
REQUEST_WIRE = {
    "id": "r-1",
    "type": "answer.compute",
    "topic": "action-requests",
    "replyto": "asker",
    "responseevent": "answer.computed",
    "correlationid": "c-1",
    "tenantid": "acme",
    "userid": "ada",
}


def reply(**changes: Any) -> EventEnvelope:
    attributes: dict[str, Any] = {
        "source": "soorma.solver",
        "type": "answer.computed",
        "topic": RESULTS,
        "correlation_id": "c-1",
        "causation_id": "r-1",
        "reply_to": "asker",
        "tenant_id": "acme",
        "user_id": "ada",
    }
    return EventEnvelope(**{**attributes, **changes})


def pending(request: SentRequest | None = None) -> InMemoryPendingRequests:
    kept = InMemoryPendingRequests()
    kept.record([request] if request else sent_requests("asker", [REQUEST_WIRE]))
    return kept


# ---- a reply keeps its request's workflow, tenant and user -------------------------------


def test_a_reply_with_the_requests_workflow_tenant_and_user_is_accepted() -> None:
    request = check_reply(reply(), "asker", "soorma.asker", pending())
    assert (request.tenant_id, request.user_id, request.correlation_id) == ("acme", "ada", "c-1")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"tenant_id": "evil-corp"}, "tenant_id 'evil-corp' where the request has 'acme'"),
        ({"tenant_id": None}, "tenant_id 'None' where the request has 'acme'"),
        ({"user_id": "mallory"}, "user_id 'mallory' where the request has 'ada'"),
        ({"correlation_id": "c-2"}, "correlation_id 'c-2' where the request has 'c-1'"),
        ({"source": "soorma.platform", "tenant_id": "evil-corp"}, "tenant_id 'evil-corp'"),
    ],
    ids=["tenant", "no-tenant", "user", "correlation", "platform"],
)
def test_a_reply_that_leaves_its_requests_scope_is_forged(
    change: dict[str, Any], named: str
) -> None:
    with pytest.raises(ForgedReplyError) as raised:
        check_reply(reply(**change), "asker", "soorma.asker", pending())
    assert named in str(raised.value)


def test_a_request_without_a_tenant_takes_no_reply_that_has_one() -> None:
    wire = {k: v for k, v in REQUEST_WIRE.items() if k not in ("tenantid", "userid")}
    kept = InMemoryPendingRequests()
    kept.record(sent_requests("asker", [wire]))
    check_reply(reply(tenant_id=None, user_id=None), "asker", "soorma.asker", kept)
    with pytest.raises(ForgedReplyError, match="tenant_id 'acme' where the request has 'None'"):
        check_reply(reply(user_id=None), "asker", "soorma.asker", kept)


def test_an_item_of_the_previous_version_checks_the_workflow_but_not_tenant_and_user() -> None:
    legacy = SentRequest(
        "asker", "r-1", "answer.compute", "answer.computed", "action-results", "c-1", scoped=False
    )
    check_reply(reply(tenant_id="other", user_id="x"), "asker", "soorma.asker", pending(legacy))
    with pytest.raises(ForgedReplyError, match="correlation_id"):
        check_reply(reply(correlation_id="c-2"), "asker", "soorma.asker", pending(legacy))


class FakeDynamoDB:
    """put_item / get_item of one table, enough for `DynamoDBPendingRequests`."""

    class exceptions:  # boto3's spelling
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put_item(self, *, Item: dict[str, Any], **_: Any) -> None:
        if Item["id"]["S"] in self.items:
            raise self.exceptions.ConditionalCheckFailedException()
        self.items[Item["id"]["S"]] = Item

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(Key["id"]["S"])
        return {"Item": item} if item is not None else {}


def test_the_stored_item_keeps_tenant_and_user_and_tells_old_items_apart() -> None:
    client = FakeDynamoDB()
    table = DynamoDBPendingRequests("t", ttl_seconds=3600, dynamodb_client=client)
    without = {k: v for k, v in REQUEST_WIRE.items() if k != "userid"} | {"id": "r-2"}
    table.record(sent_requests("asker", [REQUEST_WIRE, without]))
    assert client.items["asker#request#r-2"]["user_id"] == {"NULL": True}
    found = table.find("asker", "r-1")
    assert found is not None and (found.tenant_id, found.user_id, found.scoped) == (
        "acme",
        "ada",
        True,
    )
    second = table.find("asker", "r-2")
    assert second is not None and (second.tenant_id, second.user_id) == ("acme", None)
    for name in ("tenant_id", "user_id"):  # as the previous version wrote it
        del client.items["asker#request#r-1"][name]
    old = table.find("asker", "r-1")
    assert old is not None and (old.tenant_id, old.scoped) == (None, False)


# ---- deadlines: one spelling, bounded, outlived by their pending request --------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-1-3T7:30:0Z",
        "2026-12- 3T07:30:00Z",
        "2026-12-03T07:30:00Z\n",
        "2026-12-03T07:30:00.5Z",
        "\uff12\uff10\uff12\uff16-12-03T07:30:00Z",  # full-width digits: \d takes them
        "+2026-12-03T07:30:00Z",
        20261203,
        None,
    ],
    ids=repr,
)
def test_a_deadline_not_spelled_exactly_as_the_wire_carries_it_is_refused(value: Any) -> None:
    with pytest.raises(InvalidEnvelopeError, match=r"not a UTC time.*YYYY-MM-DDTHH:MM:SSZ"):
        check_deadline(value)


def test_a_deadline_may_be_past_but_not_past_the_pending_requests_lifetime() -> None:
    assert check_deadline("2020-01-01T00:00:00Z", most=60, now=NOW) == "2020-01-01T00:00:00Z"
    longest = deadline_after(60, now=NOW.replace(microsecond=1), most=60)  # rounded up
    assert check_deadline(longest, most=60, now=NOW) == longest
    with pytest.raises(InvalidEnvelopeError, match=r"more than 60 seconds.*IDEMPOTENCY_TTL"):
        check_deadline("2026-12-03T07:31:02Z", most=60, now=NOW)


@pytest.mark.parametrize("timeout", [True, False], ids=repr)
def test_a_boolean_timeout_is_no_number_of_seconds(timeout: bool) -> None:
    with pytest.raises(InvalidEnvelopeError, match=r"^timeout must be more than 0"):
        deadline_after(timeout, now=NOW, most=60)


def test_a_pending_request_outlives_its_deadline_by_the_margin() -> None:
    now = int(NOW.timestamp())
    plain = SentRequest("a", "r", "x.y", "x.z", "action-results", "c")
    assert expires_at(plain, now, 3600) == now + 3600
    soon = SentRequest("a", "r", "x.y", "x.z", "action-results", "c", "2026-12-03T07:31:00Z")
    assert expires_at(soon, now, 10**6) == now + 10**6  # the TTL already outlives it
    late = SentRequest("a", "r", "x.y", "x.z", "action-results", "c", "2026-12-04T07:30:00Z")
    assert expires_at(late, now, 86_400) == now + 86_400 + DEADLINE_MARGIN_SECONDS
    assert DEADLINE_MARGIN_SECONDS >= 60  # Scheduler fires up to 59 s late


# ---- a request's reply must reach a result handler --------------------------------------


def requester(reply_topics: frozenset[EventTopic] | None) -> BusClient:
    handled = EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS)
    return BusClient("lonely", "soorma.lonely", handled=handled, reply_topics=reply_topics)


def test_the_default_reply_topic_without_a_result_handler_is_refused() -> None:
    with pytest.raises(UnreachableReplyError) as raised:
        requester(frozenset()).request("stock.check", {}, "stock.checked")
    message = str(raised.value)
    assert "'lonely' has no result handler on 'action-results'" in message
    assert "listen on no topic" in message and "on_result" in message
    with pytest.raises(UnreachableReplyError, match="listen on task-events"):
        requester(frozenset({EventTopic.TASK_EVENTS})).request("stock.check", {}, "s.checked")
    requester(None).request("stock.check", {}, "stock.checked")  # not known: not checked
    assert requester(frozenset({RESULTS})).request("stock.check", {}, "stock.checked")


# ---- the schedule pump reads every page -------------------------------------------------


class PagedScheduler:
    """`list_schedules` in pages of two, as Scheduler pages with `NextToken`."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls: list[dict[str, Any]] = []

    def list_schedules(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        start = int(request.get("NextToken", 0))
        page: dict[str, Any] = {
            "Schedules": [{"Name": n, "GroupName": "g"} for n in self.names[start : start + 2]]
        }
        if start + 2 < len(self.names):
            page["NextToken"] = str(start + 2)
        return page


def test_every_page_of_schedules_is_listed() -> None:
    from soorma_dev.deadline_pump import list_all_schedules

    scheduler = PagedScheduler(["a", "b", "c", "d", "e"])
    assert [s["Name"] for s in list_all_schedules(scheduler)] == ["a", "b", "c", "d", "e"]
    assert scheduler.calls == [{}, {"NextToken": "2"}, {"NextToken": "4"}]
    assert list_all_schedules(PagedScheduler([])) == []
