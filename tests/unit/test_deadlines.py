"""Deadlines as the wire and Scheduler take them: whole seconds rounded up, never in the past."""

from __future__ import annotations


def test_a_deadline_already_past_is_scheduled_a_few_seconds_ahead() -> None:
    from datetime import UTC, datetime

    from soorma.deadlines import deadline_after, not_in_the_past

    now = datetime(2026, 12, 3, 7, 30, 0, 250_000, tzinfo=UTC)
    assert deadline_after(30, now=now, most=60) == "2026-12-03T07:30:31Z"  # rounded up
    assert not_in_the_past("2026-12-03T08:00:00Z", now=now) == "2026-12-03T08:00:00Z"
    assert not_in_the_past("2026-12-03T07:00:00Z", now=now) == "2026-12-03T07:30:05Z"


def test_no_agent_may_take_a_platform_source() -> None:
    """Timeout replies come from `soorma.platform`, the HTTP API's events from
    `soorma.front-door`: an agent under either name could forge them."""
    import pytest

    from soorma import Worker
    from soorma_common.naming import platform_function_name

    for name in ("platform", "front-door"):
        with pytest.raises(ValueError, match="reserved for the platform"):
            Worker(name=name)
    assert platform_function_name("dev", "front-door") == "soorma-dev-front-door"
    with pytest.raises(ValueError, match="not a reserved platform name"):
        platform_function_name("dev", "shop")
