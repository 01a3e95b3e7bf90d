"""The `by_progress` index of open work: what an open plan's writes add to record its progress.

An open plan item (a running workflow plan, a running or waiting choreography plan) carries
`open_pk` (`keys.open_pk`, one of `keys.OPEN_SHARDS` partitions) and `open_sk` (the time of its
last progress). Every write that records a step sets `open_sk` in that same write, so tracking
progress costs no extra request: only the index's own write (DynamoDB writes a changed index
key as one delete and one put in the index). A write that ends (or pauses) the plan removes
both keys, and the plan leaves the index. The stall sweep (`soorma.workflows.stalls`) marks a
plan it reported by setting `open_sk` to `STALLED#<last progress>` and `stalled_at`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soorma.memory import keys

#: The index and its key attributes (`soorma_common.tables`).
INDEX = "by_progress"
OPEN_PK = "open_pk"
OPEN_SK = "open_sk"
#: When the stall sweep reported the plan (set with the `STALLED#` mark).
STALLED_AT = "stalled_at"


def open_attributes(item_pk: str, now: str) -> dict[str, str]:
    """The index keys of a plan item created open at `now`."""
    return {OPEN_PK: keys.open_pk(item_pk), OPEN_SK: now}


@dataclass
class ProgressUpdate:
    """The clauses an UpdateItem adds to record progress: `sets`, `removes` and their values
    (placeholders `:soorma_open_pk`, `:soorma_progress`)."""

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def expression(self, sets: list[str], tail: str = "") -> str:
        """`[SET ...] [REMOVE ...] [tail]` with the caller's `sets` first."""
        clauses = []
        if sets or self.sets:
            clauses.append(f"SET {', '.join([*sets, *self.sets])}")
        if self.removes:
            clauses.append(f"REMOVE {', '.join(self.removes)}")
        if tail:
            clauses.append(tail)
        return " ".join(clauses)


def progress_update(item_pk: str, now: str, *, still_open: bool | None) -> ProgressUpdate:
    """What a write of a plan item adds: `still_open` True (the plan is, or becomes, open: both
    keys set), None (its status does not change: the progress time only, which indexes nothing
    unless the plan is open), False (it ends or pauses: both keys removed)."""
    update = ProgressUpdate()
    if still_open is False:
        update.removes += [OPEN_PK, OPEN_SK, STALLED_AT]
        return update
    update.sets.append(f"{OPEN_SK} = :soorma_progress")
    update.values[":soorma_progress"] = now
    update.removes.append(STALLED_AT)
    if still_open:
        update.sets.append(f"{OPEN_PK} = :soorma_open_pk")
        update.values[":soorma_open_pk"] = keys.open_pk(item_pk)
    return update
