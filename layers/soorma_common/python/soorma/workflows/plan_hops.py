"""A plan's hop budget: whether a state may still be entered under `SOORMA_MAX_HOPS`.

Every event a handler publishes carries the handled event's hop count plus one (`soorma.bus`),
and the runtime refuses an event over `SOORMA_MAX_HOPS` (`soorma.runtime.loops`). A plan whose
states loop (`ping -> pong -> ping ...`) would sooner or later send a request the runtime refuses,
then wait for a reply that never comes, its requester never answered. Instead, `PlanContext`
enters a state (delegates its actions) only when the whole round trip stays within the limit:
from the handled event at hop `h`, the requests go out at `h + 1`, their replies come back at
`h + 2`, and the plan's answer to its requester after them goes out at `h + 3`. When that would
be over the limit, the plan fails at once with the error below, and its failure reply (at
`h + 1`, within the limit unless `h` already was the limit) reaches its requester.
"""

from __future__ import annotations

import logging

from soorma.config import settings
from soorma.context import PlatformContext

#: Hops from the event a plan handles to its answer after one round trip of a state's actions:
#: the requests (+1), their replies (+2), the plan's answer to its requester (+3).
ROUND_TRIP_HOPS = 3

_log = logging.getLogger(__name__)


def hop_limit_error(context: PlatformContext, plan_id: str, state: str) -> str | None:
    """Why the plan `plan_id`, handling `context.event`, may not enter `state` (logged), or None
    when the round trip of the state's actions stays within `SOORMA_MAX_HOPS`."""
    handled, limit = context.event, settings().max_hops
    hops = handled.hop_count or 0
    if hops + ROUND_TRIP_HOPS <= limit:  # the runtime refuses an event over the limit only
        return None
    error = (
        f"plan {plan_id!r} failed before entering state {state!r}: handling {handled.type!r} at "
        f"hop count {hops}, its requests would go out at hop {hops + 1} and its answer after "
        f"their replies at hop {hops + ROUND_TRIP_HOPS}, over the limit of {limit} "
        "(SOORMA_MAX_HOPS). Its states look like a loop: give it a transition out of the loop, "
        "or raise SOORMA_MAX_HOPS for a plan that is really this deep"
    )
    _log.warning(error)
    return error
