"""Listings page with a cursor (nothing skipped, nothing repeated), user-less work is spread over
several index partitions, and the indexes carry only what listings filter on (issue 11)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import boto3
import pytest

from soorma.config import settings
from soorma.memory import MemoryClient, PlanStatus
from soorma.memory.keys import OWNERLESS_SHARDS
from soorma.memory.listing import InvalidListCursorError
from soorma_common.tables import LISTED_ATTRIBUTES, TABLES


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


def every_page(list_call: Any, **arguments: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = run(list_call(cursor=cursor, **arguments))
        pages.append([getattr(p, "plan_id", None) or p.session_id for p in page])
        cursor = page.cursor
        if cursor is None:
            return pages


@pytest.fixture
def memory(soorma_moto) -> MemoryClient:
    soorma_moto()
    return MemoryClient("acme", "ada")


def test_plans_of_every_status_are_paged_without_gaps_or_repeats(memory: MemoryClient) -> None:
    statuses = [None, PlanStatus.COMPLETED, PlanStatus.PAUSED, PlanStatus.FAILED]
    for n in range(23):
        run(memory.create_plan("g", plan_id=f"p-{n:02d}"))
        if statuses[n % 4] is not None:
            run(memory.set_plan_status(f"p-{n:02d}", statuses[n % 4]))  # type: ignore[arg-type]
    everything = [p.plan_id for p in run(memory.list_plans(limit=1000))]

    pages = every_page(memory.list_plans, limit=10)

    assert [len(p) for p in pages] == [10, 10, 3]
    assert [plan for page in pages for plan in page] == everything  # the same order, paged
    assert Counter(everything) == Counter(f"p-{n:02d}" for n in range(23))


def test_a_session_and_a_status_are_paged_too(memory: MemoryClient) -> None:
    run(memory.create_session("s-1"))
    for n in range(7):
        run(memory.create_plan("g", plan_id=f"s-{n}", session_id="s-1"))
        run(memory.create_plan("g", plan_id=f"o-{n}"))
    assert every_page(memory.list_plans, session_id="s-1", limit=3) == [
        ["s-0", "s-1", "s-2"],
        ["s-3", "s-4", "s-5"],
        ["s-6"],
    ]
    running = every_page(memory.list_plans, status="running", limit=5)
    assert sorted(p for page in running for p in page) == sorted(
        [f"s-{n}" for n in range(7)] + [f"o-{n}" for n in range(7)]
    )
    for n in range(5):
        run(memory.create_session(f"extra-{n}"))
    sessions = every_page(memory.list_sessions, limit=4)
    assert [len(p) for p in sessions] == [4, 2]


def test_user_less_work_is_spread_over_several_index_partitions(soorma_moto) -> None:
    soorma_moto()
    anonymous = MemoryClient("acme")  # events without a user
    for n in range(40):
        run(anonymous.create_plan("g", plan_id=f"p-{n}"))
    items = boto3.client("dynamodb").scan(TableName=settings().memory_table)["Items"]
    partitions = Counter(i["owner_pk"]["S"] for i in items if "owner_pk" in i)
    assert len(partitions) > 1 and max(partitions.values()) < 40
    assert all(p.startswith("T#acme#USER#anonymous#S") for p in partitions)
    assert len(partitions) <= OWNERLESS_SHARDS

    pages = every_page(anonymous.list_plans, limit=15)
    assert sorted(p for page in pages for p in page) == sorted(f"p-{n}" for n in range(40))
    assert run(MemoryClient("acme", "ada").list_plans()) == []  # a named user sees none of them


def test_a_cursor_of_another_user_or_listing_is_refused(memory: MemoryClient) -> None:
    for n in range(3):
        run(memory.create_plan("g", plan_id=f"p-{n}"))
    cursor = run(memory.list_plans(limit=1)).cursor
    assert cursor is not None
    with pytest.raises(InvalidListCursorError, match="another listing"):
        run(MemoryClient("acme", "bob").list_plans(limit=1, cursor=cursor))
    with pytest.raises(InvalidListCursorError, match="another listing"):
        run(memory.list_plans(status="running", limit=1, cursor=cursor))
    with pytest.raises(InvalidListCursorError, match="not a cursor"):
        run(memory.list_sessions(cursor="bm90IGpzb24"))
    with pytest.raises(ValueError, match="limit must be between 1 and 1000"):
        run(memory.list_plans(limit=0))


def test_a_listing_shows_each_plan_as_it_is_now(memory: MemoryClient) -> None:
    run(memory.create_plan("g", {"step": 1}, plan_id="p"))
    run(memory.update_plan("p", goal_data={"step": 2}))
    [plan] = run(memory.list_plans())
    assert plan.goal_data == {"step": 2} and plan.version == 2


def test_the_indexes_carry_only_the_keys_and_what_listings_filter_on() -> None:
    for index in TABLES["memory"].indexes:
        # The open-work index (the stall sweep's) carries its keys and the TTL only.
        listed = ["expires_at"] if index.name == "by_progress" else list(LISTED_ATTRIBUTES)
        assert index.projection() == {"ProjectionType": "INCLUDE", "NonKeyAttributes": listed}
    assert "goal_data" not in LISTED_ATTRIBUTES and "context" not in LISTED_ATTRIBUTES
