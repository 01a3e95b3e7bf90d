"""The `agent.loop_detected` notice's id is derived from the refused event's source and id: a
repeated notice for one event is a duplicate, another source's event with that id gets its own."""

from __future__ import annotations

from soorma.bus import derived_event_id
from soorma.runtime.loops import LOOP_NOTICE_TYPE, loop_error, loop_notice
from soorma_common import EventEnvelope, EventTopic


def notice_id(source: str) -> str:
    """The id of the notice `echo` publishes when it refuses `loop-1` from `source`."""
    looping = EventEnvelope(
        id="loop-1",
        source=source,
        type="echo.said",
        topic=EventTopic.BUSINESS_FACTS,
        data={},
        hop_count=11,
    )
    error = loop_error(looping, "echo", 10)
    assert error is not None
    return loop_notice("echo", "soorma.echo", looping, error, 262_144).id


def test_a_loop_notice_id_names_the_refused_event_by_source_and_id() -> None:
    assert notice_id("soorma.shop") == notice_id("soorma.shop")
    assert notice_id("soorma.shop") != notice_id("soorma.other-shop")
    expected = derived_event_id("echo", "soorma.shop", "loop-1", 0, LOOP_NOTICE_TYPE)
    assert notice_id("soorma.shop") == expected
